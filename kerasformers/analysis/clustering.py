"""Cluster word or character vectors with InfoMap on their k-nearest-neighbour graph.

InfoMap (the ``infomap`` package) finds the partition of a graph that minimises the description
length of a random walk on it: the minimum-entropy view of clustering. Each vector is linked to its
k most cosine-similar neighbours, weighted by the similarity.
"""

import numpy as np


def knn_graph(vectors, k=10):
    """Edges (i, j, cosine similarity) from every row to its k most similar other rows (similarity > 0)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2 or len(vectors) <= k:
        raise ValueError(f"knn_graph: need a (n, d) array with n > k={k}, got shape {vectors.shape}")
    unit = vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    neighbours = np.argpartition(-similarity, k, axis=1)[:, :k]
    return [
        (i, int(j), float(similarity[i, j]))
        for i in range(len(unit))
        for j in neighbours[i]
        if similarity[i, j] > 0
    ]


def infomap_clusters(vectors, k=10, seed=1, trials=3):
    """Clusters (lists of row indices, largest first) found by two-level InfoMap on the kNN graph.

    ``seed`` must be >= 1 (an infomap rule); ``trials`` independent searches keep the best partition.
    """
    import infomap

    search = infomap.Infomap(silent=True, two_level=True, seed=seed, num_trials=trials)
    for source, target, weight in knn_graph(vectors, k):
        search.add_link(source, target, weight)
    modules = search.run().modules
    modules = modules() if callable(modules) else modules
    clusters = {}
    for node, module in modules.items():
        clusters.setdefault(module, []).append(node)
    return sorted((sorted(members) for members in clusters.values()), key=len, reverse=True)


def format_clusters(clusters, labels, max_clusters=20, max_members=15, min_size=2):
    """A readable listing: one line per cluster, its size and its first members."""
    lines = []
    for number, members in enumerate(c for c in clusters if len(c) >= min_size):
        if number >= max_clusters:
            break
        shown = " ".join(labels[i] for i in members[:max_members])
        more = f" ... (+{len(members) - max_members})" if len(members) > max_members else ""
        lines.append(f"{number + 1:3d} [{len(members):4d}] {shown}{more}")
    return "\n".join(lines)
