"""Numbers for docs/initialization.md: near-orthogonality of random matrices and variance through depth.

python examples/generative/init_geometry.py          # width 512, depth 30
python examples/generative/init_geometry.py --quick  # smaller, used by tests/generative
"""

import os
import sys

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from experiment_common import parser

from kerasformers.analysis import depth_variance_profile, orthogonality_error

CHOICES = [  # (initialiser, activation)
    ("lecun_normal", None),
    ("glorot_normal", None),
    ("orthogonal", None),
    ("random_normal", None),
    ("lecun_normal", "relu"),
    ("he_normal", "relu"),
    ("orthogonal", "relu"),
    ("lecun_normal", "tanh"),
]


def main(argv=None):
    args = parser(__doc__).parse_args(argv)
    width, depth = (64, 10) if args.quick else (512, 30)
    print("| n | RMS of WᵀW − I, W ~ N(0, 1/n) | 1/√n |")
    print("|---|---|---|")
    orthogonality = {}
    for n in (16, 64, 256, 1024):
        orthogonality[n] = orthogonality_error(
            keras.initializers.RandomNormal(stddev=1 / np.sqrt(n), seed=0), n
        )
        print(f"| {n} | {orthogonality[n]:.4f} | {1 / np.sqrt(n):.4f} |")
    print(f"\n| initialiser | activation | mean square after layer 1 | 10 | {depth} |")
    print("|---|---|---|---|---|")
    profiles = {}
    for initializer, activation in CHOICES:
        profile = depth_variance_profile(
            initializer, width=width, depth=depth, activation=activation, seed=args.seed
        )
        profiles[(initializer, activation)] = profile
        print(
            f"| {initializer} | {activation or 'linear'} | {profile[0]:.4g} | {profile[9]:.4g} | {profile[-1]:.4g} |"
        )
    return {"orthogonality": orthogonality, "profiles": profiles}


if __name__ == "__main__":
    main()
