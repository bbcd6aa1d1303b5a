"""The common checks, run for every registered model family from its spec in ``specs.py``.

build · HF parity with random weights (where HF ships the family) · TF1 round trip · HF round trip
(where the family has a HuggingFace name map) · another family's checkpoint refused with a named error ·
``.keras`` save/load · checkpoint order by variable path · as a language model: causal by perturbation and
cached decoding == full forward (or a named refusal). A family registered in ``kerasformers.models.MODELS``
without a spec fails the suite.
"""

import json
import os
import re
from dataclasses import dataclass

import keras
import numpy as np
import pytest

from kerasformers.checkpoints import CheckpointError
from kerasformers.models import MODELS, build_transformer_model

from ..models.helpers import assert_close, randomize_parameters, to_numpy, torch_numpy
from .specs import SPECS

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")
LENGTHS = (7, 4)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def test_every_registered_family_has_a_spec():
    covered = {MODELS[key] for spec in SPECS for key in spec.keys}
    missing = sorted(
        f"{cls.__name__} (keys: {', '.join(k for k, c in MODELS.items() if c is cls)})"
        for cls in set(MODELS.values()) - covered
    )
    assert not missing, (
        f"registered families without a conformance spec in tests/conformance/specs.py: {missing}"
    )
    for spec in SPECS:
        assert spec.key in MODELS, f"spec {spec.key!r} names no registered model"
        assert spec.hf or spec.parity_elsewhere or spec.quirks, (
            f"spec {spec.key!r}: say where parity is checked"
        )
        if spec.parity_elsewhere:
            assert os.path.isfile(os.path.join(ROOT, spec.parity_elsewhere)), spec.parity_elsewhere


def randomize_weights(model, std=0.3, seed=0):
    """Every weight ~ N(0, std), normalisation gains ~ 1 + N(0, std): mapping mistakes show in the outputs."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        noise = rng.normal(0.0, std, size=tuple(weight.shape)).astype(weight.dtype)
        weight.assign(1.0 + noise if weight.path.endswith("gamma") else noise)


def make_inputs(model, vocab_size, seed=0):
    """One array per model input: right-padded ids (pad 0), segment/task ids, or a float context."""
    rng = np.random.default_rng(seed)
    seq_len = max(LENGTHS)
    arrays = []
    for tensor in model.inputs:
        if "float" in str(tensor.dtype):
            arrays.append(rng.normal(size=(len(LENGTHS), seq_len, tensor.shape[-1])).astype("float32"))
            continue
        ids = np.zeros((len(LENGTHS), seq_len), dtype="int32")
        high = 2 if "Segment" in tensor.name else 3 if "Task" in tensor.name else vocab_size
        low = 0 if high < vocab_size else 1
        for row, length in enumerate(LENGTHS):
            ids[row, :length] = rng.integers(low, high, size=length)
        arrays.append(ids)
    return arrays


def outputs_of(model, arrays):
    out = to_numpy(model(arrays if len(arrays) > 1 else arrays[0]))
    return out if isinstance(out, list) else [out]


@dataclass
class Family:
    spec: object
    transformer: object
    hf: object
    config_path: str
    arrays: list
    outputs: list

    def build(self, checkpoint_path):
        return build_transformer_model(
            str(self.config_path), str(checkpoint_path), model=self.spec.key, **self.spec.build
        )

    def assert_same(self, model, what, atol=1e-5):
        again = outputs_of(model, self.arrays)
        assert len(again) == len(self.outputs), f"{what}: {len(again)} outputs, expected {len(self.outputs)}"
        for index, (actual, expected) in enumerate(zip(again, self.outputs)):
            assert_close(actual, expected, atol=atol, what=f"{self.spec.key} {what} output {index}")


@pytest.fixture(scope="module", params=SPECS, ids=lambda spec: spec.key)
def family(request, tmp_path_factory):
    spec = request.param
    root = tmp_path_factory.mktemp(spec.key.replace(".", "_"))
    keras.utils.set_random_seed(0)
    hf = None
    if spec.hf:
        torch.manual_seed(0)
        config = getattr(transformers, spec.hf.config_class)(**spec.hf.config)
        for attribute, value in spec.hf.after.items():
            setattr(config, attribute, value)
        hf = getattr(transformers, spec.hf.model_class)(config).eval()
        if spec.hf.prepare is not None:
            spec.hf.prepare(hf)
        randomize_parameters(hf, std=0.3, gain_std=0.3)
        hf.save_pretrained(root / "hf")
        config_path = root / "hf" / "config.json"
        transformer = build_transformer_model(
            checkpoint_path=str(root / "hf"), model=spec.key, return_keras_model=False, **spec.build
        )
    else:
        config_path = root / "config.json"
        config_path.write_text(json.dumps(spec.config))
        transformer = build_transformer_model(
            str(config_path), model=spec.key, return_keras_model=False, **spec.build
        )
        randomize_weights(transformer.model)
    arrays = make_inputs(transformer.model, transformer.vocab_size)
    return Family(spec, transformer, hf, config_path, arrays, outputs_of(transformer.model, arrays))


@pytest.fixture(scope="module")
def foreign_checkpoints(tmp_path_factory):
    """A tiny GPT-2 (foreign to every encoder) and a tiny BERT (foreign to GPT-2), as HF folders."""
    root = tmp_path_factory.mktemp("foreign")
    transformers.GPT2LMHeadModel(
        transformers.GPT2Config(vocab_size=131, n_embd=48, n_layer=1, n_head=3, n_positions=40)
    ).save_pretrained(root / "gpt2")
    transformers.BertModel(
        transformers.BertConfig(
            vocab_size=131,
            hidden_size=48,
            num_hidden_layers=1,
            num_attention_heads=3,
            intermediate_size=37,
            max_position_embeddings=40,
        )
    ).save_pretrained(root / "bert")
    return root


def test_build(family):
    model = family.transformer.model
    assert model.name, family.spec.key
    if family.spec.hf:
        assert len(model.inputs) == len(family.spec.hf.inputs), [t.name for t in model.inputs]
    for index, output in enumerate(family.outputs):
        assert output.shape[:2] == (len(LENGTHS), max(LENGTHS)), f"output {index}: shape {output.shape}"
        assert np.isfinite(output).all(), f"output {index} has non-finite values"


def test_huggingface_parity(family):
    spec = family.spec
    if spec.hf is None:
        pytest.skip(
            f"{spec.key}: no transformers class; parity in {spec.parity_elsewhere or 'the spec quirks'}"
        )
    arguments = {
        name: torch.tensor(array, dtype=torch.long) for name, array in zip(spec.hf.inputs, family.arrays)
    }
    arguments["attention_mask"] = torch.tensor(family.arrays[0] != 0, dtype=torch.long)
    with torch.no_grad():
        expected = torch_numpy(spec.hf.output(family.hf(**arguments)))
    real = family.arrays[-1] != 0 if "decoder_input_ids" in spec.hf.inputs else family.arrays[0] != 0
    assert_close(
        family.outputs[0],
        expected,
        atol=spec.atol,
        where=real,
        what=f"{spec.key} vs transformers.{spec.hf.model_class}",
    )


def skip_if_not_applicable(family, check):
    if check in family.spec.skip:
        pytest.skip(f"{family.spec.key}: {family.spec.skip[check]}")


def test_tf1_round_trip(family, tmp_path):
    skip_if_not_applicable(family, "round_trip")
    prefix = tmp_path / "model.ckpt"
    family.transformer.save_weights_as_checkpoint(str(prefix))
    family.assert_same(family.build(prefix), "after a TF1 checkpoint round trip", atol=1e-6)


def test_huggingface_round_trip(family, tmp_path):
    skip_if_not_applicable(family, "round_trip")
    name_map = family.transformer.name_map
    if name_map is None or not hasattr(name_map, "hf_config"):
        pytest.skip(f"{family.spec.key} has no HuggingFace layout")
    family.transformer.save_weights_as_huggingface(tmp_path / "export")
    family.assert_same(family.build(tmp_path / "export"), "after a HuggingFace export round trip", atol=1e-6)


def test_another_familys_checkpoint_is_refused_by_name(family, foreign_checkpoints):
    foreign = foreign_checkpoints / ("bert" if family.spec.key == "gpt2" else "gpt2")
    with pytest.raises(CheckpointError) as error:
        family.build(foreign)
    assert re.search(r"checkpoint|variable", str(error.value)), f"unhelpful message: {error.value}"


def test_keras_save_and_load(family, tmp_path):
    path = tmp_path / "model.keras"
    family.transformer.model.save(path)
    family.assert_same(keras.saving.load_model(path), "after .keras save/load", atol=1e-6)


def test_mapping_addresses_weights_by_path(family):
    """Every mapped layer's checkpoint order, taken from variable paths, is the order `build` created them in
    today (so loading did not change), and names each variable once."""
    from kerasformers.models.weight_order import mapped_variables

    transformer = family.transformer
    for layer_name, names in transformer.variable_mapping().items():
        layer = transformer.layers.get(transformer.prefixed(layer_name))
        if layer is None:
            continue
        ordered = mapped_variables(layer)
        assert [v.path for v in ordered] == [v.path for v in layer.weights], (
            f"{family.spec.key}: {layer_name}"
        )
        assert len(ordered) >= len(names), f"{family.spec.key}: {layer_name} has fewer weights than names"


def language_model(family):
    """The family as a language model with random weights: encoder families get application='lm'
    with a logits MLM head (as bert4keras, lm turns the head on); decoders and T5 are built as they are."""
    spec = family.spec
    options = dict(spec.build)
    if MODELS[spec.key].attention_pattern == "bidirectional" and not hasattr(MODELS[spec.key], "encode"):
        options.update(application="lm", with_mlm="linear")
    transformer = build_transformer_model(
        str(family.config_path), model=spec.key, return_keras_model=False, **options
    )
    randomize_weights(transformer.model, seed=1)
    return transformer


def test_language_model_is_causal_and_cached_decoding_equals_the_full_forward(family):
    """Every family as a language model: outputs before position k ignore tokens from k on, and
    `generate`'s cached path reproduces the full forward pass, or refuses saying why."""
    from kerasformers.generation import decoder_for
    from kerasformers.generation.decoders import left_pad

    if "language_model" in family.spec.skip:
        pytest.skip(family.spec.skip["language_model"])
    transformer = language_model(family)
    seq2seq = hasattr(transformer, "encode")
    arrays = [np.array(a) for a in family.arrays]
    ids = arrays[-1] if seq2seq else arrays[0]  # the tokens the causal mask applies to
    k = 2
    changed = np.where(ids[:, k:] != 0, 1 + ids[:, k:] % (transformer.vocab_size - 1), 0)
    perturbed = [np.concatenate([ids[:, :k], changed], axis=1) if a is ids else a for a in arrays]
    before, after = outputs_of(transformer.model, arrays)[-1], outputs_of(transformer.model, perturbed)[-1]
    assert_close(
        after[:, :k], before[:, :k], atol=1e-5, what=f"{family.spec.key}: outputs before position {k}"
    )
    assert not np.allclose(after[:, k:], before[:, k:], atol=1e-3), (
        "the perturbation must reach later outputs"
    )

    problem = transformer.cached_decoding_problem()
    if problem is not None:
        with pytest.raises(ValueError, match=re.escape(problem[:40])):
            decoder_for(transformer)
        return
    decoder = decoder_for(transformer)
    length = 4  # every row has at least 4 real tokens
    if seq2seq:
        sources, sources_valid = decoder.prepare_inputs(arrays[0], 0)
        logits, state = decoder.prefill(sources, sources_valid, sources.shape[1] + length - 1)
        cached = [logits]
        for index in range(1, length):
            logits, state = decoder.step(state, ids[:, index], index)
            cached.append(logits)
        decoder_ids = np.concatenate([np.zeros_like(ids[:, :1]), ids[:, 1:length]], axis=1)
        full = outputs_of(transformer.model, [arrays[0], decoder_ids])[-1]
        first = 0
    else:
        prompt = 2
        prompt_ids, prompt_valid = left_pad(ids[:, :prompt], 0)
        logits, state = decoder.prefill(prompt_ids, prompt_valid, length)
        cached = [logits]
        for index in range(prompt, length - 1):
            logits, state = decoder.step(state, ids[:, index], index)
            cached.append(logits)
        full_inputs = [ids[:, :length]] + [
            np.zeros_like(ids[:, :length]) for _ in transformer.model.inputs[1:]
        ]
        full = outputs_of(transformer.model, full_inputs)[-1]
        first = prompt - 1
    for step, logits in enumerate(cached):
        assert_close(
            to_numpy(logits), full[:, first + step], atol=1e-4, what=f"{family.spec.key}: cached step {step}"
        )
