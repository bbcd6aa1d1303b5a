"""Tokenizers with bert4keras's API: ``Tokenizer`` (BERT WordPiece), ``SpTokenizer``
(SentencePiece), ``BPETokenizer`` (GPT-2 byte-level BPE), vocabulary helpers."""

from kerasformers.tokenizers.base import TokenizerBase
from kerasformers.tokenizers.bpe import BPETokenizer
from kerasformers.tokenizers.sentencepiece import SpTokenizer, train_sentencepiece
from kerasformers.tokenizers.vocab import load_vocab, save_vocab, train_wordpiece_vocab
from kerasformers.tokenizers.wordpiece import Tokenizer, lowercase_and_normalize

__all__ = [
    "BPETokenizer",
    "SpTokenizer",
    "Tokenizer",
    "TokenizerBase",
    "load_vocab",
    "lowercase_and_normalize",
    "save_vocab",
    "train_sentencepiece",
    "train_wordpiece_vocab",
]
