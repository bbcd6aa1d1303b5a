"""Title generation on offline real text: People's Daily (Jan. 1998) paragraphs, first sentence as
a pseudo-title (``kerasformers.tasks.title.peoples_daily_titles``). Trains the ``title-generation``
task (UniLM from scratch, or ``--model t5``) and prints Rouge-1/2/L and BLEU for greedy decoding,
beam search and seeded sampling.

    KERAS_BACKEND=jax python examples/title_generation_peoples_daily.py [--train 3000] [--epochs 3]
    python examples/title_generation_peoples_daily.py --quick      # seconds, for the tests
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from kerasformers.tasks.title import TitleGenerationTask, peoples_daily_titles


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--model", default="bert", choices=("bert", "t5"))
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="a tiny run that only checks the pipeline")
    args = parser.parse_args(argv)
    if args.quick:
        args.train, args.test, args.epochs, args.hidden, args.layers = 32, 4, 1, 32, 1
    records = peoples_daily_titles(args.train + args.test)
    train, test = records[: args.train], records[args.train :]
    encoder = {
        "hidden_size": args.hidden,
        "num_hidden_layers": args.layers,
        "num_attention_heads": 2,
        "intermediate_size": 2 * args.hidden,
    }
    task = TitleGenerationTask(
        checkpoint="scratch",
        encoder=encoder,
        model=args.model,
        maxlen=128,
        max_target_length=32,
        decoding="greedy",
    )
    start = time.time()
    task.fit(train, epochs=args.epochs, batch_size=32, verbose=0 if args.quick else 2)
    results = {
        "train": len(train),
        "test": len(test),
        "model": args.model,
        "fit_seconds": round(time.time() - start),
    }
    for decoding in ("greedy", "beam", "sample"):
        task.options["decoding"] = decoding
        results[decoding] = {k: round(v, 4) for k, v in task.evaluate(test).items()}
    print(json.dumps(results, ensure_ascii=False))
    print("example:", test[0]["title"], "→", task.predict([test[0]["text"]])[0]["title"])
    return results


if __name__ == "__main__":
    main()
