"""Run a tiny pretraining in a fresh process; test_resume.py runs, SIGKILLs and resumes it.

usage: run_pretraining.py WORK_DIR OUTPUT_DIR CORPUS [--slow]
``--slow`` sleeps after every step once the first checkpoint exists, so the parent can kill
the run mid-training (sleeping changes no numbers).
"""

import os
import sys
import time

import keras

from kerasformers.pretraining.train import pretrain

BASE_VOCAB = os.path.join(os.path.dirname(__file__), "..", "fixtures", "vocab", "bert-base-chinese-vocab.txt")
TINY = {
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 32,
}


class SlowDown(keras.callbacks.Callback):
    def __init__(self, checkpoint_path):
        super().__init__()
        self.checkpoint_path = checkpoint_path

    def on_train_batch_end(self, batch, logs=None):
        if os.path.exists(self.checkpoint_path):
            time.sleep(1.0)


def main(work_dir, output, corpus, slow=False):
    callbacks = [SlowDown(os.path.join(work_dir, "training.npz"))] if slow else []
    pretrain(
        output,
        work_dir,
        [corpus],
        BASE_VOCAB,
        objective="mlm",
        seq_len=32,
        batch_size=4,
        epochs=2,
        steps_per_epoch=5,
        learning_rate=3e-3,
        warmup_steps=2,
        model_config=TINY,
        checkpoint_every=3,
        log_every=1,
        callbacks=callbacks,
        verbose=0,
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], slow="--slow" in sys.argv)
