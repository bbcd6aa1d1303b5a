"""Unsupervised Chinese text mining: counting, new-word discovery, segmentation."""
from kerasformers.text.corpus import CorpusError, ReadStats, batch_lines, content_pieces, iter_lines
from kerasformers.text.counting import (
    CharTokenizer,
    CountTable,
    JiebaTokenizer,
    NgramTokenizer,
    count_batch,
    count_tokens,
    get_tokenizer,
)
from kerasformers.text.discovery import DiscoveryConfig, cohesion, discover_words, presegment, select_ngrams
from kerasformers.text.lexicon import Lexicon, LexiconEntry
from kerasformers.text.segmenter import Segmenter
