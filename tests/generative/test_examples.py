"""Every experiment under examples/generative runs in --quick mode and writes its pictures."""

import importlib.util
import os

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "generative")
# The models train on every backend in the unit tests; the long end-to-end runs use one backend.
jax_only = pytest.mark.skipif(
    os.environ.get("KERAS_BACKEND", "jax") != "jax",
    reason="end-to-end experiment: run on JAX; the unit tests cover every backend",
)


def run_example(name, tmp_path, *extra):
    spec = importlib.util.spec_from_file_location(f"example_{name}", os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(["--quick", "--output-dir", str(tmp_path), *extra])


def assert_png(path):
    with open(path, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert 1_000 < os.path.getsize(path) < 300_000


def test_langevin_samples_match_mixture_weights(tmp_path):
    # Measured 2026-11-30 (seeds 0 and 1): max mass error 0.035-0.065 on JAX, PyTorch and TensorFlow.
    result = run_example("langevin_2d", tmp_path)
    assert result["max_mass_error"] < 0.08, result
    assert result["sample_std_around_centre"] < 1.6, result  # near the components, not the uniform start
    assert_png(tmp_path / "langevin_mixture.png")


@jax_only
def test_vae_and_flow_vae_train_and_draw(tmp_path):
    result = run_example("vae_digits", tmp_path)
    for kind in ("vae", "flow"):
        assert result[kind]["last_epoch_loss"] < result[kind]["first_epoch_loss"]
        assert_png(tmp_path / f"{kind}_digits.png")


@jax_only
def test_vqvae_reports_usage_and_generates(tmp_path):
    result = run_example("vqvae_digits", tmp_path)
    assert result["codebook_perplexity"] > 4
    assert result["prior_test_nll_per_code"] < result["uniform_nll_per_code"]  # the prior learned something
    assert_png(tmp_path / "vqvae_digits.png")


@jax_only
def test_cluster_vae_reports_accuracy_against_kmeans(tmp_path):
    result = run_example("cluster_vae_digits", tmp_path)
    assert 0.7 < result["kmeans_accuracy"] < 0.9  # k-means on the raw pixels, a known ballpark
    assert 0.1 <= result["vae_mean_accuracy"] <= 1.0
    assert_png(tmp_path / "cluster_vae_samples.png")


def test_one_loss_gan_moves_samples_towards_the_modes(tmp_path):
    result = run_example("gan_2d", tmp_path)
    assert result["after"]["median_distance_to_mode"] < 0.8 * result["before"]["median_distance_to_mode"]
    assert_png(tmp_path / "gan_ring.png")


@jax_only
def test_hsic_power_and_infomap_listing(tmp_path):
    rows = run_example("hsic_power", tmp_path)["rows"]
    assert all(row["power"] >= 0.8 for row in rows if row["n"] == 100)
    assert all(row["type_I_error"] <= 0.3 for row in rows)
    result = run_example("infomap_words", tmp_path)
    numerals = {"一", "两", "三", "四", "五"}
    assert any(len(numerals & {result["words"][i] for i in cluster}) >= 3 for cluster in result["clusters"])
    assert (tmp_path / "infomap_clusters.txt").read_text(encoding="utf-8").strip()
