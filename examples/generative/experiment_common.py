"""Shared bits of the generative experiments: the digits data and argument parsing."""

import argparse

import numpy as np


def load_digits_data(test_fraction=0.2, seed=0):
    """scikit-learn's 8x8 digits scaled to [0, 1]: (x_train, y_train, x_test, y_test), x of shape (n, 8, 8)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")
    order = np.random.default_rng(seed).permutation(len(images))
    split = int(len(images) * (1 - test_fraction))
    train, test = order[:split], order[split:]
    return images[train], digits.target[train], images[test], digits.target[test]


def parser(description):
    arguments = argparse.ArgumentParser(description=description)
    arguments.add_argument("--quick", action="store_true", help="a few seconds' run, for the tests")
    arguments.add_argument("--output-dir", default="docs/images/generative", help="where the PNGs go")
    arguments.add_argument("--seed", type=int, default=0)
    return arguments
