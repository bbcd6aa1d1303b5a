"""From denoising auto-encoders to generation: the denoiser's residual is the score.

For noise x̃ = x + σ ε, the best denoiser r(x̃) = E[x | x̃] satisfies (Tweedie)
    ∇ log p_σ(x̃) = (r(x̃) - x̃) / σ²,
so a denoiser trained at several noise levels gives the score of every smoothed density, and
annealed Langevin dynamics (Song & Ermon 2019) turns it into a sampler.
The network predicts the noise, r(x̃, σ) = x̃ - σ · net([x̃ / √(σ² + s²), log σ]), and the loss
||(r(x̃, σ) - x) / σ||² = ||net - ε||² weights every level equally. Dividing x̃ by its expected scale
(s = ``data_std``) keeps the network's input near unit size at every level; without it the largest
levels, which decide how much mass each mode receives, were fitted poorly and the sampled mode
masses varied by ±0.15 from seed to seed.
"""

import keras
import numpy as np
from keras import ops


def geometric_noise_levels(largest, smallest, count):
    return np.geomspace(largest, smallest, count).astype("float32")


class DenoisingScoreModel(keras.Model):
    """Noise-conditional denoiser over (batch, dim) data; ``fit(x)`` trains it on any backend."""

    def __init__(self, network, noise_levels, data_std=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.data_std = float(data_std)
        self.noise_levels = np.asarray(noise_levels, dtype="float32")
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _noise_input(self, noisy, sigma):
        scale = ops.sqrt(ops.square(sigma) + self.data_std**2)
        return ops.concatenate([ops.divide(noisy, scale), ops.log(sigma)], axis=-1)

    def denoise(self, noisy, sigma):
        """r(x̃, σ); ``sigma`` has shape (batch, 1)."""
        return ops.subtract(noisy, ops.multiply(sigma, self.network(self._noise_input(noisy, sigma))))

    def score(self, noisy, sigma):
        return ops.divide(ops.subtract(self.denoise(noisy, sigma), noisy), ops.square(sigma))

    def score_model(self, dim):
        """A functional (x̃, σ) -> score model sharing the network; ``predict_on_batch`` compiles it."""
        noisy, sigma = keras.Input((dim,)), keras.Input((1,))
        return keras.Model([noisy, sigma], self.score(noisy, sigma))

    def call(self, x, training=False):
        batch = ops.shape(x)[0]
        level = keras.random.randint((batch,), 0, len(self.noise_levels), seed=self.seed_generator)
        sigma = ops.take(ops.convert_to_tensor(self.noise_levels), level)[:, None]
        noise = keras.random.normal(ops.shape(x), seed=self.seed_generator, dtype=x.dtype)
        return {"denoised": self.denoise(x + sigma * noise, sigma), "sigma": sigma}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        scaled_error = (y_pred["denoised"] - x) / y_pred["sigma"]
        return ops.mean(ops.sum(ops.square(scaled_error), axis=-1))

    def sample(self, num_samples, dim, steps_per_level=100, step_size=0.1, seed=0, final_denoise=True):
        """Annealed Langevin dynamics from uniform noise on [-s, s]^dim, s = the largest noise level.

        Level i uses step α_i = step_size · σ_i² (Song & Ermon's ε σ_i²/σ_L² with ε = step_size · σ_L²):
        x ← x + α_i/2 · score(x, σ_i) + √α_i · z. About 1/step_size steps mix one level.
        ``final_denoise`` returns r(x, σ_L) (Tweedie) so the last noise level is removed.
        """
        rng = np.random.default_rng(seed)
        largest, smallest = float(self.noise_levels[0]), float(self.noise_levels[-1])
        x = rng.uniform(-largest, largest, size=(num_samples, dim)).astype("float32")
        score_model = self.score_model(dim)
        for sigma in self.noise_levels:
            alpha = step_size * float(sigma) ** 2
            sigma_column = np.full((num_samples, 1), sigma, dtype="float32")
            for _ in range(steps_per_level):
                score = ops.convert_to_numpy(score_model.predict_on_batch([x, sigma_column]))
                x = x + 0.5 * alpha * score + np.sqrt(alpha) * rng.standard_normal(x.shape).astype("float32")
        if final_denoise:
            x = ops.convert_to_numpy(self.denoise(x, np.full((num_samples, 1), smallest, dtype="float32")))
        return x
