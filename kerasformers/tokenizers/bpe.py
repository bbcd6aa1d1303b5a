"""``BPETokenizer``: GPT-2-style byte-level BPE with the bert4keras API.

Everything is the Rust ``tokenizers`` library (model, byte-level pre-tokenizer and
decoder, parallel batch encoding); this class only adds bert4keras's ``encode``
contract and offsets-based ``rematch``.
"""

import os

from tokenizers import Tokenizer as RustTokenizer
from tokenizers import decoders, models, pre_tokenizers

from kerasformers.tokenizers.base import TokenizerBase, check_text, replace_surrogates


class BPETokenizer(TokenizerBase):
    """Byte-level BPE from ``vocab.json`` + ``merges.txt`` or from one ``tokenizer.json``.

    No special tokens are added by default (GPT-2 style); pass ``token_start`` /
    ``token_end`` (e.g. ``'<|endoftext|>'``) to add them. ``pad_token`` names the
    padding token used by ``encode_batch`` (id 0 when it is not in the vocabulary).
    """

    def __init__(
        self,
        vocab_path,
        merges_path=None,
        token_start=None,
        token_end=None,
        pad_token="<|endoftext|>",
        **kwargs,
    ):
        super().__init__(token_start=token_start, token_end=token_end, **kwargs)
        for path in (vocab_path, merges_path):
            if path is not None and not os.path.isfile(os.fspath(path)):
                raise ValueError(f"BPETokenizer: {path!r} is not a file")
        if merges_path is None:
            if not os.fspath(vocab_path).endswith(".json"):
                raise ValueError("BPETokenizer: give vocab.json + merges.txt, or a tokenizer.json")
            self._rust = RustTokenizer.from_file(os.fspath(vocab_path))
            if not isinstance(self._rust.model, models.BPE):
                raise ValueError(
                    f"BPETokenizer: {vocab_path!r} holds a {type(self._rust.model).__name__} model, not BPE"
                )
        else:
            self._rust = RustTokenizer(models.BPE.from_file(os.fspath(vocab_path), os.fspath(merges_path)))
            self._rust.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
            self._rust.decoder = decoders.ByteLevel()
        self._token_pad = pad_token
        self._token_unk = None
        self._vocab_size = self._rust.get_vocab_size(with_added_tokens=True)
        self._set_special_ids(self._rust.token_to_id)

    def token_to_id(self, token):
        index = self._rust.token_to_id(token)
        if index is None:
            raise ValueError(f"token {token!r} is not in the BPE vocabulary")
        return index

    def id_to_token(self, i):
        token = self._rust.id_to_token(i)
        if token is None:
            raise ValueError(f"id {i} is not in the BPE vocabulary (size {self._vocab_size})")
        return token

    def _tokenize(self, text):
        if self._pre_tokenize is not None:
            text = " ".join(self._pre_tokenize(text))
        return self._rust.encode(replace_surrogates(text), add_special_tokens=False).tokens

    def _content(self, text, with_offsets):
        encoding = self._rust.encode(replace_surrogates(text), add_special_tokens=False)
        return encoding.ids, (encoding.offsets if with_offsets else None)

    def _content_batch(self, texts, with_offsets):
        if not all(isinstance(t, str) for t in texts):
            return super()._content_batch(texts, with_offsets)
        texts = [replace_surrogates(t) for t in texts]
        if with_offsets:  # parallel Rust, Encoding objects carry the offsets
            return [(e.ids, e.offsets) for e in self._rust.encode_batch(texts, add_special_tokens=False)]
        return [(e.ids, None) for e in self._rust.encode_batch_fast(texts, add_special_tokens=False)]

    def decode(self, ids):
        tokens = [self._token_translate_inv.get(t) or t for t in self.ids_to_tokens(ids)]
        return self._rust.decode([self.token_to_id(t) for t in tokens], skip_special_tokens=True)

    def rematch(self, text, tokens):
        """Tokens of ``text`` -> the character indices each covers; ``[]`` for tokens
        that are not, in order, tokens of this text (e.g. added specials)."""
        check_text(text, "text")
        encoding = self._rust.encode(replace_surrogates(text), add_special_tokens=False)
        pieces = list(zip(encoding.tokens, encoding.offsets))
        result, cursor = [], 0
        for token in tokens:
            match = next((k for k in range(cursor, len(pieces)) if pieces[k][0] == token), None)
            if match is None:
                result.append([])
                continue
            start, end = pieces[match][1]
            result.append(list(range(start, end)))
            cursor = match + 1
        return result
