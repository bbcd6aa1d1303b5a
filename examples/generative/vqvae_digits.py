"""VQ-VAE on scikit-learn's 8x8 digits, then a causal Transformer prior over the 4x4 code grid.

    python examples/generative/vqvae_digits.py          # full run
    python examples/generative/vqvae_digits.py --quick  # seconds, used by tests/generative
Prints the test reconstruction MSE per pixel, the codebook perplexity and dead codes (after revival),
the prior's test negative log-likelihood per code against the uniform log(num_codes), and writes
reconstructions and images generated from codes sampled by the prior.
"""

import os
import sys

import keras
import numpy as np
from keras import layers

sys.path.insert(0, os.path.dirname(__file__))
from experiment_common import load_digits_data, parser

from kerasformers.generative import VQVAE, CodebookMonitor, CodePrior, codebook_usage
from kerasformers.generative.plotting import save_image_grid


def build(num_codes, code_dim, channels):
    encoder = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(channels, 3, padding="same", activation="relu"),
            layers.Conv2D(channels, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(code_dim, 1),
        ]
    )
    decoder = keras.Sequential(
        [
            keras.Input((4, 4, code_dim)),
            layers.Conv2D(channels, 3, padding="same", activation="relu"),
            layers.Conv2DTranspose(channels, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(1, 3, padding="same", activation="sigmoid"),
        ]
    )
    return VQVAE(encoder, decoder, num_codes=num_codes, code_dim=code_dim, beta=0.25)


def main(argv=None):
    args = parser(__doc__).parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    x_train, _, x_test, _ = load_digits_data(seed=args.seed)
    x_train, x_test = x_train[..., None], x_test[..., None]
    num_codes = 32
    epochs, prior_epochs, channels = (2, 2, 8) if args.quick else (10, 15, 32)
    model = build(num_codes, code_dim=8, channels=channels)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    monitor = CodebookMonitor(x_train[:512])
    model.fit(x_train, epochs=epochs, batch_size=64, verbose=0, callbacks=[monitor])
    test_codes = model.encode_to_codes(x_test)
    reconstruction = model.predict(x_test, verbose=0)["reconstruction"]
    _, perplexity, dead = codebook_usage(test_codes, num_codes)

    prior = CodePrior(num_codes, sequence_length=16, hidden=32 if args.quick else 64)
    prior.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    train_codes = model.encode_to_codes(x_train).reshape(len(x_train), -1)
    prior.fit(
        prior.teacher_forcing_inputs(train_codes), train_codes, epochs=prior_epochs, batch_size=64, verbose=0
    )
    flat_test = test_codes.reshape(len(x_test), -1)
    prior_nll = prior.evaluate(prior.teacher_forcing_inputs(flat_test), flat_test, verbose=0)
    generated = model.decode_codes(prior.sample(30, seed=args.seed).reshape(-1, 4, 4))
    save_image_grid(
        np.concatenate([x_test[:10, ..., 0], reconstruction[:10, ..., 0], generated[..., 0]]),
        os.path.join(args.output_dir, "vqvae_digits.png"),
        title="VQ-VAE: test images, reconstructions, 30 generated from the code prior",
    )
    results = {
        "test_reconstruction_mse": float(np.mean((reconstruction - x_test) ** 2)),
        "codebook_perplexity": perplexity,
        "dead_codes": dead,
        "num_codes": num_codes,
        "revived_during_training": int(sum(step["revived"] for step in monitor.history)),
        "prior_test_nll_per_code": float(prior_nll),
        "uniform_nll_per_code": float(np.log(num_codes)),
    }
    print(results)
    return results


if __name__ == "__main__":
    main()
