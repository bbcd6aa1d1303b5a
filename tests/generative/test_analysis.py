"""kNN-graph InfoMap clustering and the initialisation variance helpers."""

import keras
import numpy as np
import pytest
from keras import layers

from kerasformers.analysis import (
    depth_variance_profile,
    format_clusters,
    infomap_clusters,
    knn_graph,
    layer_output_variances,
    orthogonality_error,
)
from kerasformers.metrics import cluster_accuracy


def test_infomap_recovers_planted_clusters():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 16)) * 3
    labels = np.repeat(np.arange(4), 25)
    vectors = centres[labels] + rng.normal(size=(100, 16))
    clusters = infomap_clusters(vectors, k=8)
    assigned = np.zeros(100, dtype=int)
    for number, members in enumerate(clusters):
        assigned[members] = number
    assert len(clusters) == 4 and cluster_accuracy(labels, assigned) == 1.0
    listing = format_clusters(clusters, [f"w{i}" for i in range(100)], max_members=3)
    assert listing.splitlines()[0].startswith("  1 [  25] w")


def test_knn_graph_links_nearest_neighbours_and_checks_shape():
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    edges = {(i, j) for i, j, _ in knn_graph(vectors, k=1)}
    assert edges == {(0, 1), (1, 0), (2, 3), (3, 2)}
    with pytest.raises(ValueError, match="n > k"):
        knn_graph(vectors, k=4)


def test_random_gaussian_matrices_are_nearly_orthogonal_in_high_dimension():
    errors = [
        orthogonality_error(keras.initializers.RandomNormal(stddev=1 / np.sqrt(n)), n) for n in (16, 256)
    ]
    assert errors[1] < errors[0] / 3  # deviation shrinks like 1/sqrt(n)
    assert errors[1] == pytest.approx(1 / np.sqrt(256), rel=0.2)
    assert orthogonality_error("orthogonal", 64) < 1e-5


def test_variance_through_depth_matches_the_geometric_argument():
    lecun = depth_variance_profile("lecun_normal", width=256, depth=10, num_samples=512)
    he_relu = depth_variance_profile("he_normal", width=256, depth=10, activation="relu", num_samples=512)
    lecun_relu = depth_variance_profile(
        "lecun_normal", width=256, depth=10, activation="relu", num_samples=512
    )
    assert 0.4 < lecun[-1] < 2.5 and 0.4 < he_relu[-1] < 2.5  # preserved up to random fluctuation
    assert lecun_relu[-1] < 0.01  # halved at each ReLU layer: 2^-10 of the input
    orthogonal = depth_variance_profile("orthogonal", width=128, depth=10, num_samples=256)
    assert max(abs(v - orthogonal[0]) for v in orthogonal) < 1e-3 * orthogonal[0] + 1e-4


def test_layer_output_variances_of_a_model():
    model = keras.Sequential(
        [
            keras.Input((64,)),
            layers.Dense(64, kernel_initializer="he_normal", name="a"),
            layers.ReLU(name="relu"),
            layers.Dense(64, kernel_initializer="he_normal", name="b"),
        ]
    )
    report = layer_output_variances(model, np.random.default_rng(1).normal(size=(512, 64)).astype("float32"))
    assert [row["layer"] for row in report] == ["a", "relu", "b"]
    assert report[0]["mean_square"] == pytest.approx(2.0, rel=0.3)
    assert report[1]["mean_square"] == pytest.approx(1.0, rel=0.3)
