"""GPT-2 against HuggingFace `transformers` (the oracle): forward logits and generate()."""

import numpy as np
import pytest
import torch

from kerasformers.checkpoints import open_checkpoint
from kerasformers.generation import generate
from kerasformers.models import build_transformer_model

from ..generation.oracle import assert_same_sequences, pick_stop_id
from ..layouts import layout_shapes
from .helpers import assert_close, randomize_parameters, to_numpy, torch_numpy

transformers = pytest.importorskip("transformers")
VOCAB = 131
PROMPT_LENGTHS = (5, 9, 3)


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory):
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=VOCAB,
        n_embd=48,
        n_layer=2,
        n_head=3,
        n_inner=37,
        n_positions=40,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        initializer_range=0.2,
    )  # wide weights: varied generations
    model = randomize_parameters(transformers.GPT2LMHeadModel(config).eval())  # biases and LN gains too
    path = tmp_path_factory.mktemp("gpt2")
    model.save_pretrained(path)
    return path, model


@pytest.fixture(scope="module")
def gpt2(gpt2_dir):
    return build_transformer_model(
        checkpoint_path=str(gpt2_dir[0]), model="gpt2", final_activation="linear", return_keras_model=False
    )


@pytest.fixture(scope="module")
def prompts():
    rng = np.random.default_rng(0)
    return [rng.integers(1, VOCAB, size=n).tolist() for n in PROMPT_LENGTHS]


def hf_generate(model, prompts, **kwargs):
    width = max(map(len, prompts))
    ids = np.zeros((len(prompts), width), dtype="int64")
    mask = np.zeros_like(ids)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt) :] = prompt
        mask[row, width - len(prompt) :] = 1
    with torch.no_grad():
        out = model.generate(
            input_ids=torch.tensor(ids),
            attention_mask=torch.tensor(mask),
            do_sample=False,
            pad_token_id=0,
            **kwargs,
        )
    return torch_numpy(out)[:, width:]


def test_forward_logits_match(gpt2, gpt2_dir):
    _, hf_model = gpt2_dir
    ids = np.random.default_rng(1).integers(1, VOCAB, size=(3, 11)).astype("int32")
    with torch.no_grad():
        expected = torch_numpy(hf_model(torch.tensor(ids, dtype=torch.long)).logits)
    assert_close(to_numpy(gpt2.model(ids)), expected, what="gpt2 logits")


def test_tf1_round_trip(gpt2, tmp_path):
    prefix = str(tmp_path / "model.ckpt")
    gpt2.save_weights_as_checkpoint(prefix)
    config = tmp_path / "config.json"
    config.write_text(
        '{"vocab_size": 131, "hidden_size": 48, "num_hidden_layers": 2, "num_attention_heads": 3,'
        ' "intermediate_size": 37, "hidden_act": "gelu_new", "max_position_embeddings": 40}'
    )
    again = build_transformer_model(str(config), prefix, model="gpt2", final_activation="linear")
    ids = np.array([[3, 4, 5, 6]], dtype="int32")
    assert_close(to_numpy(again(ids)), to_numpy(gpt2.model(ids)), atol=1e-6, what="round trip")
    reader = open_checkpoint(prefix)
    written = {name: tuple(reader.shape(name)) for name in reader.keys()}
    assert written == layout_shapes("gpt2")  # the original TF1 names and shapes


@pytest.mark.parametrize("num_beams", [1, 3])
def test_generate_matches_transformers(gpt2, gpt2_dir, prompts, num_beams):
    _, hf_model = gpt2_dir
    eos, expected = pick_stop_id(
        lambda **kw: hf_generate(hf_model, prompts, max_new_tokens=8, num_beams=num_beams, **kw)
    )
    actual = generate(gpt2, prompts, max_new_tokens=8, num_beams=num_beams, stop_ids=[eos])
    assert_same_sequences(actual, expected, eos)


def test_export_to_huggingface_round_trips(gpt2, gpt2_dir, tmp_path):
    from kerasformers.checkpoints.export import export_huggingface

    export_huggingface(gpt2, str(tmp_path))
    reloaded = transformers.GPT2LMHeadModel.from_pretrained(str(tmp_path)).eval()
    ids = np.array([[5, 17, 42, 8, 99]])
    with torch.no_grad():
        expected = torch_numpy(gpt2_dir[1](torch.tensor(ids)).logits)
        actual = torch_numpy(reloaded(torch.tensor(ids)).logits)
    assert_close(actual, expected, atol=1e-5, what="exported GPT-2")


def test_processors_match_transformers(gpt2, gpt2_dir):
    """Repetition penalty and min_new_tokens give the same greedy tokens as transformers."""
    _, hf_model = gpt2_dir
    prompts = np.random.default_rng(5).integers(1, VOCAB, size=(3, 6)).tolist()  # equal lengths: no pads
    free = hf_generate(hf_model, prompts, max_new_tokens=8)
    stop = int(free[0, 1])
    expected = hf_generate(
        hf_model, prompts, max_new_tokens=8, repetition_penalty=1.8, min_new_tokens=3, eos_token_id=stop
    )
    actual = generate(
        gpt2, prompts, max_new_tokens=8, repetition_penalty=1.8, min_new_tokens=3, stop_ids=[stop]
    )
    assert_same_sequences(actual, expected, stop)
    plain = hf_generate(hf_model, prompts, max_new_tokens=8, eos_token_id=stop)
    assert not np.array_equal(plain, expected)  # the processors really changed the output
