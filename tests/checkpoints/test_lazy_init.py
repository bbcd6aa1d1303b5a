"""Loading a checkpoint gives covered variables their checkpoint value and nothing else their shortcut.

`build_transformer_model(checkpoint_path=...)` builds without initial values and gives every
variable its first value at load time (kerasformers/checkpoints/lazy_init.py). These tests check,
on the backend under test, that what a user sees is exactly what the old build-then-assign path
gave: checkpoint-covered variables equal the checkpoint bit for bit, every other variable holds a
proper random init (not zeros, not a placeholder), errors still name the variable, and no
variable is ever left without a value.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
from keras import ops

from kerasformers.checkpoints import CheckpointError
from kerasformers.checkpoints.lazy_init import pending_variable_ids
from kerasformers.models import build_transformer_model

CONFIG = dict(
    vocab_size=97,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=48,
    max_position_embeddings=24,
    type_vocab_size=2,
    hidden_act="gelu",
)
POOLER = ("bert/pooler/dense/kernel", "bert/pooler/dense/bias")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A TF1 checkpoint of a tiny BERT with every tensor random (std 0.25, gains near 1)."""
    directory = tmp_path_factory.mktemp("lazy_init")
    config_path = directory / "bert_config.json"
    config_path.write_text(json.dumps(CONFIG))
    transformer = build_transformer_model(str(config_path), with_pool=True, return_keras_model=False)
    rng = np.random.default_rng(0)
    tensors = {}
    for name, value in transformer.named_weights().items():
        noise = rng.normal(0.0, 0.25, value.shape)
        tensors[name] = (1.0 + noise if name.endswith("gamma") else noise).astype("float32")
    prefix = str(directory / "bert_model.ckpt")
    from kerasformers.checkpoints import write_tf1_checkpoint

    write_tf1_checkpoint(prefix, tensors)
    without_pooler = {k: v for k, v in tensors.items() if k not in POOLER}
    write_tf1_checkpoint(str(directory / "no_pooler.ckpt"), without_pooler)
    return dict(config=str(config_path), prefix=prefix, tensors=tensors, directory=directory)


def _weights(transformer):
    return {name: np.asarray(value) for name, value in transformer.named_weights().items()}


def test_covered_variables_equal_the_checkpoint(checkpoint):
    transformer = build_transformer_model(
        checkpoint["config"], checkpoint["prefix"], with_pool=True, return_keras_model=False
    )
    assert not pending_variable_ids()
    loaded = _weights(transformer)
    assert set(loaded) == set(checkpoint["tensors"])
    for name, expected in checkpoint["tensors"].items():
        np.testing.assert_array_equal(loaded[name], expected, err_msg=name)
    # The model computes with those values (not with a placeholder used while tracing).
    token_ids = np.array([[2, 5, 7, 0]], dtype="int32")
    outputs = transformer.model.predict([token_ids, np.zeros_like(token_ids)], verbose=0)
    assert np.all(np.isfinite(outputs[0])) and np.std(outputs[0]) > 0.1


def test_matches_assigning_into_an_initialized_model(checkpoint):
    """Deferred first values and the old build-then-assign path give identical outputs."""
    deferred = build_transformer_model(checkpoint["config"], checkpoint["prefix"], with_pool=True)
    assigned = build_transformer_model(checkpoint["config"], with_pool=True, return_keras_model=False)
    assigned.load_weights_from_checkpoint(checkpoint["prefix"])
    token_ids = np.array([[2, 5, 7, 9, 11, 0], [3, 4, 0, 0, 0, 0]], dtype="int32")
    inputs = [token_ids, (token_ids > 6).astype("int32")]
    for a, b in zip(deferred.predict(inputs, verbose=0), assigned.model.predict(inputs, verbose=0)):
        np.testing.assert_array_equal(a, b)


def test_uncovered_variables_get_their_random_init(checkpoint):
    """A variable the checkpoint lacks (ignore_invalid_weights) or no mapping names gets its initializer."""
    transformer = build_transformer_model(
        checkpoint["config"],
        str(checkpoint["directory"] / "no_pooler.ckpt"),
        with_pool=True,
        with_mlm=True,  # the MLM head is not in the checkpoint either
        ignore_invalid_weights=True,
        return_keras_model=False,
    )
    assert not pending_variable_ids()
    kernel, bias = (ops.convert_to_numpy(w) for w in transformer.layers["Pooler-Dense"].weights)
    assert 0.01 < kernel.std() < 0.03 and np.abs(kernel).max() <= 0.04 + 1e-6  # TruncatedNormal(0.02)
    np.testing.assert_array_equal(bias, 0.0)  # a bias initializer of zeros stays zeros
    mlm_kernel = ops.convert_to_numpy(transformer.layers["MLM-Dense"].weights[0])
    assert 0.01 < mlm_kernel.std() < 0.03
    assert not np.array_equal(mlm_kernel[:32, :32], kernel[:32, :32])  # independent draws
    gamma = ops.convert_to_numpy(transformer.layers["MLM-Norm"].weights[0])
    np.testing.assert_array_equal(gamma, 1.0)
    loaded = transformer.named_weights()
    for name, expected in checkpoint["tensors"].items():
        if name not in POOLER:
            np.testing.assert_array_equal(loaded[name], expected, err_msg=name)


def test_missing_and_misshapen_variables_are_named_and_nothing_is_left_pending(checkpoint):
    with pytest.raises(CheckpointError, match=r"missing variable 'bert/pooler/dense/kernel'.*ignore_invalid"):
        build_transformer_model(
            checkpoint["config"], str(checkpoint["directory"] / "no_pooler.ckpt"), with_pool=True
        )
    assert not pending_variable_ids()
    with pytest.raises(CheckpointError, match=r"model expects shape \(97, 40\).*checkpoint has \(97, 32\)"):
        build_transformer_model(
            checkpoint["config"], checkpoint["prefix"], hidden_size=40, num_attention_heads=2
        )
    assert not pending_variable_ids()
    with pytest.raises(CheckpointError, match="Checkpoint not found"):
        build_transformer_model(checkpoint["config"], str(checkpoint["directory"] / "absent.ckpt"))
    assert not pending_variable_ids()
    # A model built afterwards without a checkpoint is unaffected by those failures.
    model = build_transformer_model(checkpoint["config"])
    assert all(np.all(np.isfinite(ops.convert_to_numpy(w))) for w in model.weights)


def test_huggingface_safetensors_and_torch_bin_load_the_same_values(checkpoint, tmp_path):
    """HF layouts go through a renaming reader (with transposes); values must still land exactly."""
    source = build_transformer_model(
        checkpoint["config"], checkpoint["prefix"], with_pool=True, return_keras_model=False
    )
    source.save_weights_as_huggingface(str(tmp_path / "hf"))
    from safetensors.numpy import load_file

    torch = pytest.importorskip("torch")
    state = {k: torch.from_numpy(v) for k, v in load_file(str(tmp_path / "hf" / "model.safetensors")).items()}
    (tmp_path / "bin").mkdir()
    torch.save(state, str(tmp_path / "bin" / "pytorch_model.bin"))
    (tmp_path / "bin" / "config.json").write_text((tmp_path / "hf" / "config.json").read_text())
    for path in (tmp_path / "hf", tmp_path / "bin"):
        loaded = build_transformer_model(checkpoint_path=str(path), with_pool=True, return_keras_model=False)
        weights = loaded.named_weights()
        for name, expected in checkpoint["tensors"].items():
            np.testing.assert_array_equal(weights[name], expected, err_msg=f"{path}: {name}")


def test_torch_bin_is_read_tensor_by_tensor_without_torch(tmp_path):
    """Views into shared storages (offsets, strides) read exactly; the reader never imports torch."""
    torch = pytest.importorskip("torch")
    weight = torch.arange(12.0).reshape(3, 4)
    state = {
        "w": weight,
        "row": weight[1],
        "column": weight[:, 2],
        "half": weight.half().t(),
        "n": torch.tensor(7),
    }
    torch.save(state, tmp_path / "pytorch_model.bin")
    expected = {name: tensor.float().numpy().tolist() for name, tensor in state.items()}
    code = (
        "import sys\n"
        "sys.modules['torch'] = None  # any `import torch` fails\n"
        "from kerasformers.checkpoints import open_checkpoint\n"
        f"reader = open_checkpoint({str(tmp_path)!r})\n"
        f"got = {{name: reader[name].tolist() for name in {list(state)!r}}}\n"
        f"assert got == {expected!r}, got\n"
        "assert str(reader.dtype('half')) == 'float16' and reader.shape('half') == (4, 3)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
