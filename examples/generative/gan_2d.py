"""One-loss GAN on a ring of 8 Gaussians (2-D), trained with plain ``model.fit``.

    python examples/generative/gan_2d.py          # full run
    python examples/generative/gan_2d.py --quick  # seconds, used by tests/generative
Reports how many of the 8 modes the generator covers (>= 2% of samples within 3 std of the mode),
the fraction of samples within 3 std of some mode, and the median distance to the nearest mode
before and after training; writes a scatter plot of data vs samples.
"""

import os
import sys

import keras
import numpy as np
from keras import layers, ops

sys.path.insert(0, os.path.dirname(__file__))
from experiment_common import parser

from kerasformers.generative import OneLossGAN
from kerasformers.generative.plotting import save_scatter

MODES = 2.0 * np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], axis=1)
STD = 0.05


def ring_data(n, seed):
    rng = np.random.default_rng(seed)
    return (MODES[rng.integers(0, 8, n)] + STD * rng.standard_normal((n, 2))).astype("float32")


def mode_statistics(samples):
    distances = np.linalg.norm(samples[:, None] - MODES[None], axis=-1)
    nearest, close = distances.argmin(1), distances.min(1) < 3 * STD
    covered = sum(np.mean(close & (nearest == k)) >= 0.02 for k in range(8))
    return {
        "modes_covered": int(covered),
        "high_quality_fraction": float(close.mean()),
        "median_distance_to_mode": float(np.median(distances.min(1))),
    }


def main(argv=None):
    args = parser(__doc__).parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    hidden, steps = (32, 200) if args.quick else (128, 2000)
    generator = keras.Sequential(
        [
            keras.Input((8,)),
            layers.Dense(hidden, activation="relu"),
            layers.Dense(hidden, activation="relu"),
            layers.Dense(2),
        ]
    )
    discriminator = keras.Sequential(
        [
            keras.Input((2,)),
            layers.Dense(hidden, activation="relu"),
            layers.Dense(hidden, activation="relu"),
            layers.Dense(1),
        ]
    )
    gan = OneLossGAN(generator, discriminator, latent_dim=8, seed=args.seed)
    before = mode_statistics(ops.convert_to_numpy(gan.generate(2000)))
    gan.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    batch = 256
    gan.fit(ring_data(batch * steps, args.seed), batch_size=batch, epochs=1, verbose=0)
    samples = ops.convert_to_numpy(gan.generate(2000))
    after = mode_statistics(samples)
    save_scatter(
        [("data", ring_data(2000, args.seed + 1)), ("one-loss GAN samples", samples)],
        os.path.join(args.output_dir, "gan_ring.png"),
    )
    results = {"before": before, "after": after, "steps": steps}
    print(results)
    return results


if __name__ == "__main__":
    main()
