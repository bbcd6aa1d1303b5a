"""What a pretrained folder has learnt, against a random draw of the same size (docs/pretraining.md).

    python bench/pretraining_probes.py mlm DIR                  # masked-character accuracy, held-out reviews
    python bench/pretraining_probes.py frozen DIR               # logistic regression on frozen features
    python bench/pretraining_probes.py finetune DIR --start pretrained --pooling mean [--train 1500] [--epochs 2]
    python bench/pretraining_probes.py finetune DIR --task ner --start scratch-vocab [--learning-rate 3e-4]

``DIR`` is a pretrained folder (e.g. ``$XDG_CACHE_HOME/kerasformers/pretrained/chinese-roformer-tiny``).
Sentiment uses the split of ``kerasformers.pretraining.downstream`` (test reviews are held-out
lines); NER uses MSRA (1,000 train / 300 test sentences). ``--start``: ``pretrained`` (the folder),
``scratch`` (random, character vocabulary of the training texts), ``scratch-vocab`` (random, the
folder's vocabulary). Prints one JSON line.
"""

import argparse
import json
import os

import numpy as np


def _encode(tokenizer, records, maxlen=64):
    ids = [tokenizer.encode(r["text"], maxlen=maxlen)[0] for r in records]
    width = max(map(len, ids))
    return np.array([row + [0] * (width - len(row)) for row in ids])


def masked_accuracy(folder, seed=0):
    """15 % of the characters of held-out reviews replaced by [MASK]; share predicted exactly."""
    from kerasformers.models import build_transformer_model, folder_family
    from kerasformers.pretraining.downstream import sentiment_records
    from kerasformers.tokenizers import Tokenizer

    tokenizer = Tokenizer(os.path.join(folder, "vocab.txt"), do_lower_case=True)
    _, test = sentiment_records(1500, 600)
    x = _encode(tokenizer, test)
    # ids 0-3: [PAD] [UNK] [CLS] [SEP] (the exported vocabulary keeps bert-base-chinese's order)
    chosen = (x > 3) & (np.random.default_rng(seed).random(x.shape) < 0.15)
    truth, x[chosen] = x[chosen], tokenizer.token_to_id("[MASK]")
    model = build_transformer_model(
        os.path.join(folder, "bert_config.json"),
        os.path.join(folder, "bert_model.ckpt"),
        model=folder_family(folder),
        with_mlm=True,
    )
    predicted = np.asarray(model.predict([x, np.zeros_like(x)], verbose=0)).argmax(-1)
    return {
        "probe": "mlm",
        "accuracy": float((predicted[chosen] == truth).mean()),
        "masked": int(chosen.sum()),
    }


def frozen_probe(folder):
    """Logistic regression on the mean and on the [CLS] output, pretrained weights vs a random draw."""
    from sklearn.linear_model import LogisticRegression

    from kerasformers.models import build_transformer_model, folder_family
    from kerasformers.pretraining.downstream import sentiment_records
    from kerasformers.tokenizers import Tokenizer

    tokenizer = Tokenizer(os.path.join(folder, "vocab.txt"), do_lower_case=True)
    train, test = sentiment_records(1500, 600)
    x_train, x_test = _encode(tokenizer, train), _encode(tokenizer, test)
    y_train = np.array([r["label"] == "pos" for r in train])
    y_test = np.array([r["label"] == "pos" for r in test])
    result = {"probe": "frozen"}
    for start, weights in (("pretrained", os.path.join(folder, "bert_model.ckpt")), ("random", None)):
        model = build_transformer_model(
            os.path.join(folder, "bert_config.json"), weights, model=folder_family(folder)
        )
        for pooling in ("mean", "cls"):

            def features(x, model=model, pooling=pooling):
                h = np.asarray(model.predict([x, np.zeros_like(x)], verbose=0))
                if pooling == "cls":
                    return h[:, 0]
                keep = (x > 0)[..., None]
                return (h * keep).sum(1) / keep.sum(1)

            classifier = LogisticRegression(max_iter=2000).fit(features(x_train), y_train)
            result[f"{start}_{pooling}"] = float(classifier.score(features(x_test), y_test))
    return result


def finetune(folder, task, start, pooling, train_size, epochs, learning_rate):
    """The task API's fit/evaluate from the folder, from scratch, or from scratch on its vocabulary."""
    from kerasformers.models import folder_family
    from kerasformers.pretraining import downstream
    from kerasformers.tasks import encoder, get_task

    with open(os.path.join(folder, "bert_config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    same_size = {k: config[k] for k in downstream.SAME_SIZE_KEYS}
    options = {"pooling": pooling} if task == "classification" else {}
    if start == "pretrained":
        source, overrides = folder, None
    elif start == "scratch":
        source, overrides = "scratch", same_size
    else:  # scratch-vocab: the folder's config and vocabulary, no weights
        spec = encoder.from_folder(folder)
        spec.weights, spec.source = None, "scratch"
        source, overrides = folder, None
        encoder.resolve = lambda *args, **kwargs: spec
    family = folder_family(folder)
    model = get_task(task)(checkpoint=source, maxlen=128, encoder=overrides, model=family, **options)
    if task == "classification":
        train, test = downstream.sentiment_records(train_size, 600)
    else:
        train, test = downstream.msra_records(model, train_size, 300)
    model.fit(train, epochs=epochs, batch_size=32, verbose=0, learning_rate=learning_rate)
    return {
        "probe": "finetune",
        "task": task,
        "model": family,
        "start": start,
        "pooling": pooling,
        "train": len(train),
        "epochs": epochs,
        "learning_rate": learning_rate,
        **model.evaluate(test),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("probe", choices=["mlm", "frozen", "finetune"])
    parser.add_argument("folder")
    parser.add_argument("--task", choices=["classification", "ner"], default="classification")
    parser.add_argument("--start", choices=["pretrained", "scratch", "scratch-vocab"], default="pretrained")
    parser.add_argument("--pooling", choices=["cls", "mean"], default="cls")
    parser.add_argument(
        "--train", type=int, default=None, help="training records (1500 reviews / 1000 sentences)"
    )
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.probe == "mlm":
        result = masked_accuracy(args.folder)
    elif args.probe == "frozen":
        result = frozen_probe(args.folder)
    else:
        train = args.train or (1500 if args.task == "classification" else 1000)
        result = finetune(
            args.folder, args.task, args.start, args.pooling, train, args.epochs, args.learning_rate
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
