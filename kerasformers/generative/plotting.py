"""Small matplotlib (Agg) helpers the experiments use to write their pictures."""

import os

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_image_grid(images, path, columns=10, title=None, row_labels=None):
    """Write (n, h, w) grey images in [0, 1] as one PNG grid; returns the path."""
    plt = _pyplot()
    images = np.clip(np.asarray(images), 0.0, 1.0)
    rows = int(np.ceil(len(images) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 0.6, rows * 0.6 + (0.4 if title else 0)))
    for index, axis in enumerate(np.asarray(axes).reshape(-1)):
        axis.axis("off")
        if index < len(images):
            axis.imshow(images[index], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        if row_labels is not None and index % columns == 0 and index // columns < len(row_labels):
            axis.text(
                -1.5,
                images.shape[1] / 2,
                str(row_labels[index // columns]),
                ha="right",
                va="center",
                fontsize=7,
            )
    if title:
        figure.suptitle(title, fontsize=9)
    return _save(figure, path, plt)


def save_scatter(panels, path, title=None):
    """``panels``: list of (name, points (n, 2)); one scatter plot per panel, shared axes."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2), sharex=True, sharey=True)
    for axis, (name, points) in zip(np.atleast_1d(axes), panels):
        axis.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4)
        axis.set_title(name, fontsize=9)
        axis.set_aspect("equal")
    if title:
        figure.suptitle(title, fontsize=9)
    return _save(figure, path, plt)


def _save(figure, path, plt):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
