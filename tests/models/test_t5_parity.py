"""T5 v1.0 / v1.1 against HuggingFace `transformers`: forward logits and generate()."""

import numpy as np
import pytest
import torch

from kerasformers.checkpoints import CheckpointError, open_checkpoint
from kerasformers.generation import generate
from kerasformers.models import build_transformer_model

from ..generation.oracle import assert_same_sequences, pick_stop_id
from ..layouts import layout_shapes
from .helpers import assert_close, randomize_parameters, to_numpy, torch_numpy

transformers = pytest.importorskip("transformers")
VOCAB = 131
SOURCE_LENGTHS = (10, 6, 3)
VERSIONS = {"t5.1.0": "relu", "t5.1.1": "gated-gelu"}


def make_t5(path, version, initializer_factor, randomize=False):
    torch.manual_seed(0)
    config = transformers.T5Config(
        vocab_size=VOCAB,
        d_model=48,
        d_kv=16,
        d_ff=37,
        num_layers=2,
        num_heads=3,
        feed_forward_proj=VERSIONS[version],
        dropout_rate=0.0,
        decoder_start_token_id=0,
        eos_token_id=1,
        pad_token_id=0,
        initializer_factor=initializer_factor,
        tie_word_embeddings=version == "t5.1.0",
    )  # v5: also decides the rescale
    config.tie_word_embeddings = version == "t5.1.0"  # v5 forces True in __init__; v1.1 has its own head
    model = transformers.T5ForConditionalGeneration(config).eval()
    model.set_input_embeddings(model.shared)  # one embedding for encoder, decoder and `shared`
    if randomize:
        randomize_parameters(model)
    model.save_pretrained(path)
    return model


@pytest.fixture(scope="module", params=list(VERSIONS))
def t5_pair(request, tmp_path_factory):
    version = request.param
    path = tmp_path_factory.mktemp(version.replace(".", "_"))
    hf_model = make_t5(path, version, initializer_factor=2.0)  # wide weights: varied generations
    ours = build_transformer_model(
        checkpoint_path=str(path), model=version, with_lm="linear", return_keras_model=False
    )
    return version, hf_model, ours


@pytest.fixture(scope="module")
def sources():
    rng = np.random.default_rng(0)
    return [rng.integers(2, VOCAB, size=n).tolist() for n in SOURCE_LENGTHS]


def right_padded(sources):
    ids = np.zeros((len(sources), max(map(len, sources))), dtype="int32")
    for row, source in enumerate(sources):
        ids[row, : len(source)] = source
    return ids


def test_forward_logits_match(version_dir_default):
    version, hf_model, ours = version_dir_default
    src = right_padded([[5, 9, 22, 17, 3, 8], [40, 41, 42]])
    dec = np.array([[0, 7, 8, 9], [0, 3, 100, 5]], dtype="int32")
    with torch.no_grad():
        expected = torch_numpy(
            hf_model(
                input_ids=torch.tensor(src, dtype=torch.long),
                attention_mask=torch.tensor(src != 0, dtype=torch.long),
                decoder_input_ids=torch.tensor(dec, dtype=torch.long),
            ).logits
        )
    assert_close(to_numpy(ours.model([src, dec])), expected, what=f"{version} logits")
    context = to_numpy(ours.encoder(src[:1, :6]))
    assert_close(to_numpy(ours.decoder([context, dec[:1]])), expected[:1], what=f"{version} decoder model")


@pytest.fixture(scope="module", params=list(VERSIONS))
def version_dir_default(request, tmp_path_factory):
    """Every parameter redrawn (std 0.25, RMS gains 1 +- 0.2) for the 1e-4 forward comparison."""
    version = request.param
    path = tmp_path_factory.mktemp(version.replace(".", "_") + "_default")
    hf_model = make_t5(path, version, initializer_factor=1.0, randomize=True)
    ours = build_transformer_model(
        checkpoint_path=str(path), model=version, with_lm="linear", return_keras_model=False
    )
    return version, hf_model, ours


def test_tf1_checkpoint_has_original_layout(version_dir_default, tmp_path):
    version, _, ours = version_dir_default
    prefix = str(tmp_path / "model.ckpt")
    ours.save_weights_as_checkpoint(prefix)
    reader = open_checkpoint(prefix)
    assert {n: tuple(reader.shape(n)) for n in reader.keys()} == layout_shapes(version)


@pytest.mark.parametrize("num_beams", [1, 3])
def test_generate_matches_transformers(t5_pair, sources, num_beams):
    version, hf_model, ours = t5_pair
    ids = right_padded(sources)

    def oracle(**kwargs):
        with torch.no_grad():
            out = hf_model.generate(
                input_ids=torch.tensor(ids, dtype=torch.long),
                attention_mask=torch.tensor(ids != 0, dtype=torch.long),
                max_new_tokens=7,
                num_beams=num_beams,
                do_sample=False,
                **kwargs,
            )
        return torch_numpy(out)[:, 1:]  # drop the decoder start token

    eos, expected = pick_stop_id(oracle, default=1)
    actual = generate(ours, sources, max_new_tokens=7, num_beams=num_beams, stop_ids=[eos])
    assert_same_sequences(actual, expected, eos)


def test_untied_t5_folder_fails_naming_the_tensors(tmp_path):
    """transformers 5 with tie_word_embeddings=false keeps separate encoder/decoder embeddings: refuse them."""
    config = transformers.T5Config(
        vocab_size=VOCAB,
        d_model=16,
        d_kv=8,
        d_ff=24,
        num_layers=1,
        num_heads=2,
        feed_forward_proj="relu",
        tie_word_embeddings=False,
    )
    config.tie_word_embeddings = False
    model = randomize_parameters(transformers.T5ForConditionalGeneration(config).eval())
    with torch.no_grad():
        model.encoder.embed_tokens = torch.nn.Embedding(
            VOCAB, 16
        )  # a tensor of its own, as such folders hold
    model.save_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="encoder.embed_tokens.weight"):
        build_transformer_model(checkpoint_path=str(tmp_path), model="t5")


def test_tie_word_embeddings_false_gives_an_untied_head(tmp_path):
    """A t5.1.0-style (ReLU) folder saved untied: a separate lm_head and no d_model**-0.5 rescale, as in HF."""
    config = transformers.T5Config(
        vocab_size=VOCAB,
        d_model=16,
        d_kv=8,
        d_ff=24,
        num_layers=1,
        num_heads=2,
        feed_forward_proj="relu",
        tie_word_embeddings=False,
        decoder_start_token_id=0,
    )
    config.tie_word_embeddings = False
    model = randomize_parameters(transformers.T5ForConditionalGeneration(config).eval())
    model.set_input_embeddings(model.shared)  # one input embedding; only the head is separate
    model.save_pretrained(tmp_path)
    ours = build_transformer_model(checkpoint_path=str(tmp_path), model="t5", with_lm="linear")
    src = right_padded([[5, 9, 22, 17], [40, 41]])
    dec = np.array([[0, 7, 8], [0, 3, 100]], dtype="int32")
    with torch.no_grad():
        expected = torch_numpy(
            model(
                input_ids=torch.tensor(src, dtype=torch.long),
                attention_mask=torch.tensor(src != 0, dtype=torch.long),
                decoder_input_ids=torch.tensor(dec, dtype=torch.long),
            ).logits
        )
    assert_close(to_numpy(ours([src, dec])), expected, what="untied t5 logits")


def test_saving_refuses_a_layer_with_fewer_weights_than_its_mapping(tmp_path):
    # t5.1.1 maps a gated FFN (wi_0, wi_1, wo); without hidden_act=[gelu, linear] the FFN has two weights,
    # and a silent save would write a checkpoint that cannot load back.
    from kerasformers.checkpoints import CheckpointError

    t5 = build_transformer_model(
        model="mt5.1.1",
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=12,
        return_keras_model=False,
    )
    with pytest.raises(CheckpointError, match="FeedForward' has 2 weights but the mapping names 3"):
        t5.save_weights_as_checkpoint(str(tmp_path / "t5.ckpt"))
    assert not list(tmp_path.iterdir())


def test_bert4keras_decoder_export_is_refused(tmp_path):
    """A Google/bert4keras config builds bert4keras's decoder (cross-attention position bias, d_model**-0.5
    output scale), as bert4keras does; a HuggingFace folder builds transformers' T5. transformers cannot
    express the first, so exporting it is refused by name, and nothing is written."""
    config = dict(
        vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=12
    )
    t5 = build_transformer_model(model="t5.1.0", return_keras_model=False, **config)
    assert (t5.cross_position_bias, t5.scale_decoder_output) == (True, True)
    with pytest.raises(ValueError, match="cross_position_bias=True"):
        t5.save_weights_as_huggingface(str(tmp_path / "export"))
    assert not (tmp_path / "export").exists() or not list((tmp_path / "export").iterdir())
    hf_style = build_transformer_model(
        model="t5.1.0",
        return_keras_model=False,
        cross_position_bias=False,
        scale_decoder_output=False,
        **config,
    )
    hf_style.save_weights_as_huggingface(str(tmp_path / "export"))
    assert (tmp_path / "export" / "config.json").is_file()
