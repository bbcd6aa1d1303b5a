"""One-step clustering VAE on scikit-learn's 8x8 digits, against k-means on the same pixels.

    python examples/generative/cluster_vae_digits.py          # full run
    python examples/generative/cluster_vae_digits.py --quick  # seconds, used by tests/generative
Accuracy = the best one-to-one map of the 10 clusters to the 10 digit labels (Hungarian matching),
on all 1797 images (no labels are used for training).
"""

import os
import sys

import keras
import numpy as np
from keras import layers, ops

sys.path.insert(0, os.path.dirname(__file__))
from experiment_common import load_digits_data, parser

from kerasformers.generative import ClusteringVAE
from kerasformers.generative.plotting import save_image_grid
from kerasformers.metrics import cluster_accuracy


def build(latent_dim, hidden, num_clusters, seed):
    encoder = keras.Sequential(
        [
            keras.Input((8, 8)),
            layers.Flatten(),
            layers.Dense(hidden, activation="relu"),
            layers.Dense(hidden, activation="relu"),
            layers.Dense(2 * latent_dim),
        ]
    )
    decoder = keras.Sequential(
        [
            keras.Input((latent_dim,)),
            layers.Dense(hidden, activation="relu"),
            layers.Dense(hidden, activation="relu"),
            layers.Dense(64),
            layers.Reshape((8, 8)),
        ]
    )
    classifier = keras.Sequential([keras.Input((latent_dim,)), layers.Dense(num_clusters)])
    return ClusteringVAE(
        encoder,
        decoder,
        classifier,
        num_clusters=num_clusters,
        latent_dim=latent_dim,
        kl_weight=1.0,
        category_weight=1.0,
        seed=seed,
    )


def main(argv=None):
    arguments = parser(__doc__)
    arguments.add_argument("--runs", type=int, default=1, help="independent seeds (the mean is reported)")
    arguments.add_argument("--epochs", type=int, default=30)
    args = arguments.parse_args(argv)
    x_train, y_train, x_test, y_test = load_digits_data(seed=args.seed)
    images, labels = np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])
    from sklearn.cluster import KMeans

    kmeans = KMeans(10, n_init=10, random_state=args.seed).fit(images.reshape(len(images), -1))
    kmeans_accuracy = cluster_accuracy(labels, kmeans.labels_)
    epochs, runs = (2, 1) if args.quick else (args.epochs, args.runs)
    accuracies = []
    for run in range(runs):
        keras.utils.set_random_seed(args.seed + run)
        model = build(latent_dim=10, hidden=64 if args.quick else 128, num_clusters=10, seed=args.seed + run)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model.fit(images, epochs=epochs, batch_size=64, verbose=0)
        accuracies.append(cluster_accuracy(labels, model.predict_clusters(images)))
    samples = np.concatenate([ops.convert_to_numpy(model.generate_from_cluster(k, 8)) for k in range(10)])
    save_image_grid(
        samples,
        os.path.join(args.output_dir, "cluster_vae_samples.png"),
        columns=8,
        row_labels=[f"cluster {k}" for k in range(10)],
        title="clustering VAE: 8 samples from each cluster's Gaussian",
    )
    results = {
        "kmeans_accuracy": float(kmeans_accuracy),
        "vae_accuracies": [float(a) for a in accuracies],
        "vae_mean_accuracy": float(np.mean(accuracies)),
    }
    print(results)
    return results


if __name__ == "__main__":
    main()
