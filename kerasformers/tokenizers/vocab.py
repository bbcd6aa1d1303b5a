"""Vocabulary files: load/save bert4keras-style ``vocab.txt`` and train new ones."""

import os

from kerasformers.tokenizers._chars import is_cjk, is_punctuation

from ..atomic import atomic_write

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _is_redundant(token):
    """A multi-character token holding CJK or punctuation can never come out of the
    tokenizer, since those characters always form words of their own."""
    if len(token) <= 1:
        return False
    stem = token.removeprefix("##")
    return any(is_cjk(ch) or is_punctuation(ch) for ch in stem)


def load_vocab(dict_path, encoding="utf-8", simplified=False, startswith=None):
    """Read a one-token-per-line vocabulary into ``{token: id}``.

    With ``simplified=True`` returns ``(token_dict, keep_tokens)``: the vocabulary
    without tokens the tokenizer can never produce (``startswith`` tokens first),
    and for each kept token its id in the original file, to pass as ``keep_tokens``
    when building a model so the embedding rows follow.
    """
    if not os.path.isfile(dict_path):
        raise ValueError(f"load_vocab: dict_path {dict_path!r} is not a file")
    token_dict = {}
    with open(dict_path, encoding=encoding) as reader:
        for line in reader:
            fields = line.split()
            token = fields[0] if fields else line.strip()
            token_dict.setdefault(token, len(token_dict))
    if not simplified:
        return token_dict

    new_dict, keep_tokens = {}, []
    for token in startswith or []:
        if token not in token_dict:
            raise ValueError(f"load_vocab: startswith token {token!r} is not in {dict_path!r}")
        new_dict[token] = len(new_dict)
        keep_tokens.append(token_dict[token])
    for token, index in sorted(token_dict.items(), key=lambda item: item[1]):
        if token not in new_dict and not _is_redundant(token):
            new_dict[token] = len(new_dict)
            keep_tokens.append(index)
    return new_dict, keep_tokens


def save_vocab(dict_path, token_dict, encoding="utf-8"):
    """Write ``{token: id}`` as one token per line in id order (atomically)."""
    tokens = [token for token, _ in sorted(token_dict.items(), key=lambda item: item[1])]
    for token in tokens:
        if any(ch.isspace() for ch in token):
            raise ValueError(f"save_vocab: token {token!r} contains whitespace and would not load back")
    with atomic_write(dict_path, encoding=encoding) as writer:
        writer.write("".join(token + "\n" for token in tokens))


def train_wordpiece_vocab(
    texts, vocab_size, min_frequency=2, do_lower_case=True, special_tokens=SPECIAL_TOKENS, dict_path=None
):
    """Learn a BERT WordPiece vocabulary from an iterable of texts.

    Uses the Rust ``tokenizers`` WordPiece trainer; words are split the BERT way
    (CJK characters one by one), so a Chinese corpus yields a character vocabulary
    plus ``##`` pieces for Latin words. Returns ``{token: id}`` with
    ``special_tokens`` first; writes it to ``dict_path`` too when given.
    """
    from tokenizers import Tokenizer as RustTokenizer
    from tokenizers import models, normalizers, pre_tokenizers, trainers

    if isinstance(texts, str):
        raise ValueError("train_wordpiece_vocab: texts must be an iterable of strings, not one string")
    if vocab_size <= len(special_tokens):
        raise ValueError(
            f"train_wordpiece_vocab: vocab_size={vocab_size} leaves no room beyond "
            f"{len(special_tokens)} special tokens"
        )
    rust = RustTokenizer(models.WordPiece(unk_token="[UNK]"))
    rust.normalizer = normalizers.BertNormalizer(lowercase=do_lower_case)
    rust.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(special_tokens),
        show_progress=False,
    )
    rust.train_from_iterator((_check_text(t) for t in texts), trainer=trainer)
    vocab = rust.get_vocab()
    token_dict = {token: i for i, token in enumerate(sorted(vocab, key=vocab.get))}
    if dict_path is not None:
        save_vocab(dict_path, token_dict)
    return token_dict


def _check_text(text):
    if not isinstance(text, str):
        raise ValueError(f"training texts must be strings, got {type(text).__name__}")
    return text
