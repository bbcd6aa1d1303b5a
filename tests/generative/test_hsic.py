"""HSIC against a direct NumPy transcription of the definitions, and its behaviour as a test statistic."""

import numpy as np
import pytest
from keras import ops

from kerasformers.generative.gradients import value_and_gradients
from kerasformers.metrics import hsic, hsic_test, median_heuristic


def numpy_gram(a, kernel, sigma):
    a = np.asarray(a, np.float64)
    if kernel == "linear":
        return a @ a.T
    squared = np.sum((a[:, None, :] - a[None, :, :]) ** 2, axis=-1)
    return np.exp(-squared / (2 * sigma**2))


def numpy_median_distance(a):
    n = len(a)
    return np.median([np.linalg.norm(a[i] - a[j]) for i in range(n) for j in range(i + 1, n)])


def numpy_hsic(x, y, kernel="gaussian", sigma_x=None, sigma_y=None, estimator="biased"):
    n = len(x)
    k = numpy_gram(x, kernel, sigma_x if sigma_x is not None else numpy_median_distance(x))
    l = numpy_gram(y, kernel, sigma_y if sigma_y is not None else numpy_median_distance(y))
    if estimator == "biased":
        h = np.eye(n) - np.ones((n, n)) / n
        return np.trace(k @ h @ l @ h) / (n - 1) ** 2
    k_t, l_t = k.copy(), l.copy()
    np.fill_diagonal(k_t, 0.0)
    np.fill_diagonal(l_t, 0.0)
    one = np.ones(n)
    return (
        np.trace(k_t @ l_t)
        + (one @ k_t @ one) * (one @ l_t @ one) / ((n - 1) * (n - 2))
        - 2.0 / (n - 2) * one @ k_t @ l_t @ one
    ) / (n * (n - 3))


def dependent_pair(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = np.stack([x[:, 0] ** 2, np.sin(2 * x[:, 1])], axis=1) + 0.3 * rng.normal(size=(n, 2))
    return x.astype("float32"), y.astype("float32")


@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
@pytest.mark.parametrize(
    "kernel,sigma", [("gaussian", None), ("gaussian", 0.7), ("gaussian", (0.5, 1.5)), ("linear", None)]
)
def test_matches_direct_numpy(estimator, kernel, sigma):
    x, y = dependent_pair(23, seed=1)
    sigma_x, sigma_y = sigma if isinstance(sigma, tuple) else (sigma, sigma)
    expected = numpy_hsic(x, y, kernel, sigma_x, sigma_y, estimator)
    got = float(ops.convert_to_numpy(hsic(x, y, kernel=kernel, sigma=sigma, estimator=estimator)))
    assert got == pytest.approx(expected, rel=2e-4, abs=1e-6)


def test_median_heuristic_is_median_pairwise_distance():
    x, _ = dependent_pair(15, seed=2)
    assert float(ops.convert_to_numpy(median_heuristic(x))) == pytest.approx(
        numpy_median_distance(x), rel=1e-5
    )


def test_unbiased_estimator_has_zero_mean_under_independence():
    rng = np.random.default_rng(0)
    draws = {"biased": [], "unbiased": []}
    for _ in range(150):
        x, y = rng.normal(size=(12, 1)), rng.normal(size=(12, 1))
        for estimator, values in draws.items():
            values.append(numpy_hsic(x, y, "gaussian", 1.0, 1.0, estimator))
    unbiased, biased = np.array(draws["unbiased"]), np.array(draws["biased"])
    assert abs(unbiased.mean()) < 3 * unbiased.std() / np.sqrt(len(unbiased))
    assert biased.mean() > 10 * biased.std() / np.sqrt(len(biased))


def test_permutation_test_separates_dependent_from_independent():
    x, y = dependent_pair(80, seed=3)
    _, p_dependent = hsic_test(x, y, num_permutations=200)
    rng = np.random.default_rng(4)
    _, p_independent = hsic_test(x, rng.normal(size=(80, 2)), num_permutations=200)
    assert p_dependent < 0.01
    assert p_independent > 0.05
    _, p_unbiased = hsic_test(x, y, estimator="unbiased", num_permutations=100)
    assert p_unbiased < 0.02


def test_differentiable_gradient_matches_finite_differences():
    x, y = dependent_pair(10, seed=5)
    _, (grad_x,) = value_and_gradients(lambda t: hsic(t, y, sigma=1.0), [x])
    step, numeric = 1e-4, np.zeros_like(x, dtype=np.float64)
    for index in np.ndindex(x.shape):
        plus, minus = x.astype(np.float64), x.astype(np.float64)
        plus[index] += step
        minus[index] -= step
        numeric[index] = (
            numpy_hsic(plus, y, "gaussian", 1.0, 1.0) - numpy_hsic(minus, y, "gaussian", 1.0, 1.0)
        ) / (2 * step)
    np.testing.assert_allclose(grad_x, numeric, rtol=2e-3, atol=2e-5)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="same number of rows"):
        hsic(np.zeros((5, 2)), np.zeros((6, 2)))
    with pytest.raises(ValueError, match="unknown kernel"):
        hsic(np.zeros((5, 2)), np.zeros((5, 2)), kernel="laplace")
    with pytest.raises(ValueError, match="at least 4 samples"):
        hsic(np.ones((3, 1)), np.ones((3, 1)), estimator="unbiased")
