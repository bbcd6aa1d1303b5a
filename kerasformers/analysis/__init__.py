"""Analysis tools: InfoMap clustering of vector kNN graphs, quick PPMI-SVD word vectors, and
per-layer variance reports for initialisers."""

from .clustering import format_clusters, infomap_clusters, knn_graph
from .initialization import depth_variance_profile, layer_output_variances, orthogonality_error
from .vectors import peoples_daily_sentences, ppmi_svd_vectors

__all__ = [
    "depth_variance_profile",
    "format_clusters",
    "infomap_clusters",
    "knn_graph",
    "layer_output_variances",
    "orthogonality_error",
    "peoples_daily_sentences",
    "ppmi_svd_vectors",
]
