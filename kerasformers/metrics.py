"""Dependence measures: the Hilbert-Schmidt Independence Criterion (HSIC).

``hsic`` is written with ``keras.ops`` so it is differentiable on every backend and can be used
as a loss term; ``hsic_test`` adds a permutation test (NumPy) that turns the statistic into a p-value.

Definitions (n samples, kernel matrices K from x and L from y, H = I - 11ᵀ/n):

- biased (Gretton et al. 2005):  HSIC_b = tr(K H L H) / (n - 1)²
- unbiased (Song et al. 2012), with K̃, L̃ = K, L with zero diagonals:
  HSIC_u = [tr(K̃ L̃) + (1ᵀK̃1)(1ᵀL̃1) / ((n-1)(n-2)) - 2/(n-2) · 1ᵀK̃L̃1] / (n (n - 3))
- kernels: "gaussian" k(a, b) = exp(-‖a - b‖² / (2σ²)); "linear" k(a, b) = aᵀb.
- median heuristic (sigma=None): σ = median of ‖a_i - a_j‖ over the pairs i < j, taken separately
  for x and for y. It is treated as a constant (no gradient flows through it).
"""

import numpy as np
from keras import ops

KERNELS = ("gaussian", "linear")
ESTIMATORS = ("biased", "unbiased")


def _as_matrix(values, name):
    values = ops.convert_to_tensor(values)
    if len(values.shape) == 1:
        values = ops.expand_dims(values, -1)
    if len(values.shape) != 2 or values.shape[0] < 2:
        raise ValueError(
            f"hsic: {name} must have shape (n, d) or (n,) with n >= 2, got {tuple(values.shape)}"
        )
    return ops.cast(values, "float32") if "float" not in str(values.dtype) else values


def _squared_distances(values):
    squared_norms = ops.sum(ops.square(values), axis=-1)
    distances = (
        squared_norms[:, None] + squared_norms[None, :] - 2.0 * ops.matmul(values, ops.transpose(values))
    )
    return ops.maximum(distances, 0.0)


def median_heuristic(values):
    """Median of the pairwise Euclidean distances ‖a_i - a_j‖ over i < j (a constant, no gradient)."""
    values = _as_matrix(values, "values")
    n = values.shape[0]
    rows, cols = np.triu_indices(n, k=1)
    flat_index = ops.convert_to_tensor(rows * n + cols, dtype="int32")
    pair_distances = ops.take(ops.reshape(_squared_distances(values), (-1,)), flat_index)
    return ops.stop_gradient(ops.sqrt(ops.median(pair_distances)))


def kernel_matrix(values, kernel="gaussian", sigma=None):
    """The n x n kernel matrix of the rows of ``values``."""
    values = _as_matrix(values, "values")
    if kernel == "linear":
        return ops.matmul(values, ops.transpose(values))
    if kernel != "gaussian":
        raise ValueError(f"hsic: unknown kernel {kernel!r}; expected one of {KERNELS}")
    if sigma is None:  # all-equal rows give a median of 0: any positive width then gives K = 1
        sigma = ops.maximum(median_heuristic(values), 1e-12)
    sigma = ops.cast(sigma, values.dtype)
    return ops.exp(-_squared_distances(values) / (2.0 * ops.square(sigma)))


def _split_sigma(sigma):
    if isinstance(sigma, (tuple, list)):
        if len(sigma) != 2:
            raise ValueError(f"hsic: sigma must be a number or a pair (sigma_x, sigma_y), got {sigma!r}")
        return sigma[0], sigma[1]
    return sigma, sigma


def hsic_from_kernels(k, l, estimator="biased"):
    """HSIC from two n x n kernel matrices."""
    n = k.shape[0]
    if estimator == "biased":
        k_centered = k - ops.mean(k, axis=0, keepdims=True)
        l_centered = l - ops.mean(l, axis=0, keepdims=True)
        # tr(K H L H) = tr((HK)(HL)) since H is idempotent; sum of elementwise products of HK and (HL)ᵀ.
        return ops.sum(k_centered * ops.transpose(l_centered)) / (n - 1) ** 2
    if estimator != "unbiased":
        raise ValueError(f"hsic: unknown estimator {estimator!r}; expected one of {ESTIMATORS}")
    if n < 4:
        raise ValueError(f"hsic: the unbiased estimator needs at least 4 samples, got {n}")
    off_diagonal = ops.convert_to_tensor(1.0 - np.eye(n), dtype=k.dtype)
    k_tilde, l_tilde = k * off_diagonal, l * off_diagonal
    trace_term = ops.sum(k_tilde * ops.transpose(l_tilde))
    sums_term = ops.sum(k_tilde) * ops.sum(l_tilde) / ((n - 1) * (n - 2))
    cross_term = 2.0 / (n - 2) * ops.sum(ops.matmul(k_tilde, l_tilde))
    return (trace_term + sums_term - cross_term) / (n * (n - 3))


def hsic(x, y, kernel="gaussian", sigma=None, estimator="biased"):
    """HSIC between paired samples x: (n, dx) and y: (n, dy); a scalar tensor, differentiable.

    ``sigma`` is a number, a pair ``(sigma_x, sigma_y)`` or None (median heuristic per variable);
    it is ignored by the linear kernel.
    """
    x, y = _as_matrix(x, "x"), _as_matrix(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"hsic: x and y need the same number of rows, got {x.shape[0]} and {y.shape[0]}")
    sigma_x, sigma_y = _split_sigma(sigma)
    k = kernel_matrix(x, kernel, sigma_x)
    l = kernel_matrix(y, kernel, sigma_y)
    return hsic_from_kernels(k, l, estimator)


def hsic_test(x, y, kernel="gaussian", sigma=None, estimator="biased", num_permutations=500, seed=0):
    """Permutation test of independence; returns ``(statistic, p_value)``.

    The null distribution comes from recomputing HSIC with the rows of y shuffled;
    p = (1 + #{permuted >= observed}) / (1 + num_permutations).
    """
    x, y = _as_matrix(x, "x"), _as_matrix(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"hsic_test: x and y need the same number of rows, got {x.shape[0]} and {y.shape[0]}"
        )
    if estimator not in ESTIMATORS:
        raise ValueError(f"hsic_test: unknown estimator {estimator!r}; expected one of {ESTIMATORS}")
    if estimator == "unbiased" and x.shape[0] < 4:
        raise ValueError(f"hsic_test: the unbiased estimator needs at least 4 samples, got {x.shape[0]}")
    sigma_x, sigma_y = _split_sigma(sigma)
    k = ops.convert_to_numpy(kernel_matrix(x, kernel, sigma_x)).astype(np.float64)
    l = ops.convert_to_numpy(kernel_matrix(y, kernel, sigma_y)).astype(np.float64)
    statistic = float(_numpy_hsic(k, l, estimator))
    rng = np.random.default_rng(seed)
    exceed = 0
    for _ in range(num_permutations):
        order = rng.permutation(len(l))
        exceed += _numpy_hsic(k, l[np.ix_(order, order)], estimator) >= statistic
    return statistic, (1 + exceed) / (1 + num_permutations)


def _numpy_hsic(k, l, estimator):
    """The same estimators in float64 NumPy, for the many permutations of the test."""
    n = len(k)
    if estimator == "biased":
        return np.sum((k - k.mean(0)) * (l - l.mean(0)).T) / (n - 1) ** 2
    k_tilde, l_tilde = k - np.diag(np.diag(k)), l - np.diag(np.diag(l))
    trace_term = np.sum(k_tilde * l_tilde.T)
    sums_term = k_tilde.sum() * l_tilde.sum() / ((n - 1) * (n - 2))
    cross_term = 2.0 / (n - 2) * (k_tilde.sum(0) @ l_tilde.sum(1))
    return (trace_term + sums_term - cross_term) / (n * (n - 3))


def cluster_accuracy(labels, clusters):
    """Unsupervised clustering accuracy: the best one-to-one map of clusters to labels (Hungarian)."""
    from scipy.optimize import linear_sum_assignment

    labels, clusters = np.asarray(labels).reshape(-1), np.asarray(clusters).reshape(-1)
    if labels.shape != clusters.shape:
        raise ValueError(f"cluster_accuracy: {labels.shape[0]} labels but {clusters.shape[0]} cluster ids")
    label_ids, label_index = np.unique(labels, return_inverse=True)
    cluster_ids, cluster_index = np.unique(clusters, return_inverse=True)
    contingency = np.zeros((len(cluster_ids), len(label_ids)), dtype=np.int64)
    np.add.at(contingency, (cluster_index, label_index), 1)
    rows, cols = linear_sum_assignment(contingency, maximize=True)
    return contingency[rows, cols].sum() / len(labels)
