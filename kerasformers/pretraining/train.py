"""``pretrain``: corpus -> vocabulary -> prepared rows -> resumable training -> exported model.

Everything a run needs lives in ``work_dir`` (vocabulary, prepared rows, the training
checkpoint, the loss log), so running the same call again after a kill (even SIGKILL) resumes
from the last checkpoint and ends with the same weights as an uninterrupted run.
"""

import json
import os
import time

import keras

from ..tokenizers import load_vocab, save_vocab
from ..training import TrainingCheckpoint, fit_resumable
from .data import PretrainingData
from .model import bert_config, build_pretraining_model, compile_for_pretraining, export_pretrained
from .prepare import corpus_vocabulary, load_prepared, prepare_corpus


class LossLog(keras.callbacks.Callback):
    """Append ``{"step", "loss", "accuracy", "tokens", "seconds"}`` to a JSON-lines file every N steps.

    The loss is the mean over the last N batches (recovered from Keras's running epoch mean).
    """

    def __init__(self, path, checkpoint, tokens_per_step, every_n_steps=50):
        super().__init__()
        self.path, self.checkpoint = path, checkpoint
        self.tokens_per_step, self.every_n_steps = tokens_per_step, every_n_steps
        self.started = time.time()
        self.elapsed_before = _last_entry(path).get("seconds", 0.0) if os.path.exists(path) else 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.window = {"batches": 0, "loss": 0.0, "masked_accuracy": 0.0}

    def on_train_batch_end(self, batch, logs=None):
        step = self.checkpoint.global_step
        if step % self.every_n_steps or not logs:
            return
        seen = batch + 1  # Keras's logs are running means since the start of this fit epoch
        entry = {"step": step}
        for key, name in (("loss", "loss"), ("masked_accuracy", "accuracy")):
            total = float(logs[key]) * seen
            entry[name] = round((total - self.window[key]) / (seen - self.window["batches"]), 5)
            self.window[key] = total
        self.window["batches"] = seen
        entry["tokens"] = step * self.tokens_per_step
        entry["seconds"] = round(self.elapsed_before + time.time() - self.started, 1)
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")


class PeriodicExport(keras.callbacks.Callback):
    """Export the model folder every N steps and when training ends (a usable model at all times)."""

    def __init__(self, export, checkpoint, every_n_steps):
        super().__init__()
        self.export, self.checkpoint, self.every_n_steps = export, checkpoint, every_n_steps

    def on_train_batch_end(self, batch, logs=None):
        if self.checkpoint.global_step % self.every_n_steps == 0:
            self.export()


def _last_entry(path):
    with open(path, encoding="utf-8") as lines:
        entries = [line for line in lines if line.strip()]
    return json.loads(entries[-1]) if entries else {}


def _truncate_log(path, last_step):
    """Drop log lines written after the checkpoint we resume from (they will be trained again)."""
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as lines:
        kept = [line for line in lines if line.strip() and json.loads(line)["step"] <= last_step]
    with open(path + ".tmp", "w", encoding="utf-8") as out:
        out.writelines(kept)
    os.replace(path + ".tmp", path)


def read_loss_log(path):
    """The entries a ``LossLog`` wrote, oldest first."""
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def pretrain(
    output,
    work_dir,
    sources,
    base_vocab,
    objective="mlm",
    model="bert",
    whole_word=True,
    seq_len=128,
    batch_size=32,
    epochs=1,
    steps_per_epoch=None,
    learning_rate=5e-4,
    warmup_steps=100,
    seed=0,
    min_count=1,
    max_vocab=None,
    model_config=None,
    checkpoint_every=100,
    export_every=None,
    log_every=50,
    weights_dtype="float32",
    callbacks=(),
    verbose="auto",
):
    """Pretrain a BERT-family ``model`` (``bert``, or ``roformer`` for rotary positions) with
    ``objective`` (``mlm``, ``unilm`` or ``gpt``).

    ``mlm`` masks whole jieba words, or single characters with ``whole_word=False``.

    Writes the model folder ``output`` (``bert_config.json``, ``vocab.txt``, ``bert_model.ckpt.*``,
    ``config.json``, ``model.safetensors``, ``pretraining.json``) every ``export_every`` steps and
    at the end; returns the path of ``output``.
    """
    os.makedirs(work_dir, exist_ok=True)
    vocab_path = os.path.join(work_dir, "vocab.txt")
    if os.path.exists(vocab_path):
        token_dict = load_vocab(vocab_path)
    else:
        token_dict, keep_tokens = corpus_vocabulary(sources, base_vocab, min_count, max_vocab)
        with open(os.path.join(work_dir, "keep_tokens.json"), "w", encoding="utf-8") as out:
            json.dump(keep_tokens, out)
        save_vocab(vocab_path, token_dict)
    data_dir = os.path.join(work_dir, f"rows-{objective}-{seq_len}")
    if os.path.exists(os.path.join(data_dir, "meta.json")):
        meta, _ = load_prepared(data_dir)
    else:
        meta = prepare_corpus(sources, data_dir, token_dict, seq_len, objective)
    config = bert_config(len(token_dict), **(model_config or {}))
    config_path = os.path.join(work_dir, "bert_config.json")
    with open(config_path, "w", encoding="utf-8") as out:
        json.dump(config, out, indent=2)

    keras.utils.set_random_seed(seed)
    data = PretrainingData(
        data_dir,
        batch_size,
        seed=seed,
        steps_per_epoch=steps_per_epoch,
        mask_id=token_dict["[MASK]"],
        whole_word=whole_word,
    )
    transformer, train_model = build_pretraining_model(
        config_path, objective, data.max_predictions, model=model
    )
    total_steps = epochs * len(data)
    compile_for_pretraining(train_model, learning_rate, total_steps, min(warmup_steps, total_steps // 2))
    checkpoint = TrainingCheckpoint(os.path.join(work_dir, "training.npz"), every_n_steps=checkpoint_every)
    log_path = os.path.join(work_dir, "loss.jsonl")
    restored = checkpoint.restore(train_model)
    _truncate_log(log_path, restored["global_step"] if restored else 0)
    log = LossLog(log_path, checkpoint, batch_size * seq_len, log_every)

    def export():
        last = _last_entry(log_path) if os.path.exists(log_path) else {}
        info = {
            "model": model,
            "objective": objective,
            "whole_word": whole_word,
            "sources": list(sources),
            "seq_len": seq_len,
            "batch_size": batch_size,
            "steps": checkpoint.global_step,
            "total_steps": total_steps,
            "tokens_seen": checkpoint.global_step * batch_size * seq_len,
            "corpus_rows": meta["rows"],
            "corpus_tokens": meta["tokens"],
            "last_logged_loss": last.get("loss"),
            "seconds": last.get("seconds"),
        }
        export_pretrained(transformer, output, config, token_dict, info, weights_dtype)

    callbacks = [log, *callbacks]
    if export_every:
        callbacks.append(PeriodicExport(export, checkpoint, export_every))
    fit_resumable(train_model, data, epochs, checkpoint, callbacks=callbacks, verbose=verbose)
    if checkpoint.global_step % checkpoint_every:
        checkpoint.save(train_model)
    export()
    return output
