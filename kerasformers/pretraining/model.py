"""The BERT being pretrained, its losses, and writing it out as TF1 + HuggingFace checkpoints."""

import json
import os

import keras
import safetensors.numpy
from keras import ops

from ..atomic import staging_directory
from ..models import build_transformer_model
from ..tokenizers import save_vocab

#: objective -> bert4keras ``application`` (UniLM's seq2seq mask, GPT's causal mask on a BERT).
APPLICATIONS = {"mlm": "encoder", "unilm": "unilm", "gpt": "lm"}
#: Families this module pretrains and exports (BERT's layout with or without learned positions).
MODELS = ("bert", "roformer")


def bert_config(
    vocab_size,
    hidden_size=128,
    num_hidden_layers=4,
    num_attention_heads=2,
    intermediate_size=512,
    max_position_embeddings=512,
    dropout=0.1,
):
    """A Google/bert4keras ``bert_config.json`` dictionary."""
    return {
        "vocab_size": vocab_size,
        "hidden_size": hidden_size,
        "num_hidden_layers": num_hidden_layers,
        "num_attention_heads": num_attention_heads,
        "intermediate_size": intermediate_size,
        "hidden_act": "gelu",
        "hidden_dropout_prob": dropout,
        "attention_probs_dropout_prob": dropout,
        "max_position_embeddings": max_position_embeddings,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
    }


def build_pretraining_model(config_path, objective, max_predictions=None, checkpoint_path=None, model="bert"):
    """``(transformer, train_model)``: a BERT-family ``model`` (``bert`` or ``roformer``) with its
    MLM head, and the Keras model ``fit`` trains.

    ``train_model`` outputs logits. For ``mlm`` it takes a third input, the masked positions,
    and runs the vocabulary projection only there; ``unilm`` / ``gpt`` predict at every position.
    """
    if objective not in APPLICATIONS:
        raise ValueError(f"objective must be one of {sorted(APPLICATIONS)}, got {objective!r}")
    if model not in MODELS:
        raise ValueError(f"model must be one of {list(MODELS)}, got {model!r}")
    # The pooler is built (and exported, untrained) so that `with_pool=True` loads the checkpoint.
    transformer = build_transformer_model(
        config_path,
        checkpoint_path,
        model=model,
        application=APPLICATIONS[objective],
        with_pool=True,
        with_mlm="linear",
        return_keras_model=False,
    )
    if objective != "mlm":
        return transformer, keras.Model(transformer.model.inputs, transformer.model.outputs[-1])
    head = [transformer.layers[transformer.prefixed(name)] for name in ("MLM-Dense", "MLM-Norm")]
    sequence = head[0].input
    positions = keras.Input(shape=(max_predictions,), dtype="int32", name="Input-Masked-Positions")
    h = ops.take_along_axis(sequence, ops.expand_dims(positions, -1), axis=1)
    for layer in head:
        h = layer(h)
    h = transformer.layers[transformer.prefixed("Embedding-Token")](h, mode="dense")
    h = transformer.layers[transformer.prefixed("MLM-Bias")](h)
    return transformer, keras.Model([*transformer.model.inputs, positions], h, name="mlm_pretraining")


def masked_crossentropy(labels, logits):
    """Mean cross-entropy over the positions whose label is not 0 ([PAD] = nothing to predict)."""
    mask = ops.cast(ops.not_equal(labels, 0), "float32")
    losses = keras.losses.sparse_categorical_crossentropy(
        labels, ops.cast(logits, "float32"), from_logits=True
    )
    return ops.sum(losses * mask) / ops.maximum(ops.sum(mask), 1.0)


def masked_accuracy(labels, logits):
    """Share of predicted positions (label != 0) whose arg-max is the label."""
    mask = ops.cast(ops.not_equal(labels, 0), "float32")
    hits = ops.cast(ops.equal(ops.cast(ops.argmax(logits, axis=-1), labels.dtype), labels), "float32")
    return ops.sum(hits * mask) / ops.maximum(ops.sum(mask), 1.0)


def compile_for_pretraining(
    model, learning_rate, total_steps, warmup_steps, weight_decay=0.01, gradient_accumulation_steps=None
):
    """AdamW with linear warm-up then cosine decay; no decay on LayerNorm gains and biases."""
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=max(1, total_steps - warmup_steps),
        alpha=0.0,
        warmup_target=learning_rate,
        warmup_steps=warmup_steps,
    )
    optimizer = keras.optimizers.AdamW(
        learning_rate=schedule,
        weight_decay=weight_decay,
        clipnorm=1.0,
        gradient_accumulation_steps=gradient_accumulation_steps,
    )
    optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    model.compile(optimizer=optimizer, loss=masked_crossentropy, metrics=[masked_accuracy])
    return model


def export_pretrained(transformer, folder, config, token_dict, info=None, weights_dtype="float32"):
    """Write a complete model folder: TF1 (bert4keras) and HuggingFace files, vocab, and ``info``.

    ``weights_dtype="float16"`` halves the files (both loaders cast back to float32 exactly).

    The folder is assembled under a temporary name and swapped in, so readers see either the
    previous complete export or the new one.
    """
    folder = os.path.abspath(folder)
    with staging_directory(folder) as staging:
        with open(os.path.join(staging, "bert_config.json"), "w", encoding="utf-8") as out:
            json.dump(config, out, indent=2)
        save_vocab(os.path.join(staging, "vocab.txt"), token_dict)
        transformer.save_weights_as_checkpoint(os.path.join(staging, "bert_model.ckpt"), dtype=weights_dtype)
        transformer.save_weights_as_huggingface(staging)
        if weights_dtype != "float32":
            hf_path = os.path.join(staging, "model.safetensors")
            tensors = safetensors.numpy.load_file(hf_path)
            safetensors.numpy.save_file({k: v.astype(weights_dtype) for k, v in tensors.items()}, hf_path)
        if info is not None:
            with open(os.path.join(staging, "pretraining.json"), "w", encoding="utf-8") as out:
                json.dump(info, out, indent=2, ensure_ascii=False)
        for name in os.listdir(staging):
            os.chmod(os.path.join(staging, name), 0o644)  # mkstemp-written files are private
    return folder
