"""Variational auto-encoders: the plain VAE and the one-step clustering VAE.

Both override ``compute_loss`` only, so Keras's own ``train_step`` trains them on JAX, PyTorch and
TensorFlow alike: ``model.compile(optimizer); model.fit(x)`` (no targets, the input is the target).
"""

import keras
from keras import ops

_LOG_2PI = 1.8378770664093453


def reconstruction_loss(x, decoded, kind):
    """Per-sample negative log-likelihood summed over features.

    "bernoulli": ``decoded`` are logits and x lies in [0, 1]; "gaussian": ``decoded`` is the mean of a
    unit-variance Gaussian (squared error / 2 plus the constant).
    """
    x = ops.reshape(x, (ops.shape(x)[0], -1))
    decoded = ops.reshape(decoded, (ops.shape(decoded)[0], -1))
    if kind == "bernoulli":
        per_feature = ops.maximum(decoded, 0.0) - decoded * x + ops.log1p(ops.exp(-ops.abs(decoded)))
    elif kind == "gaussian":
        per_feature = 0.5 * ops.square(x - decoded) + 0.5 * _LOG_2PI
    else:
        raise ValueError(f"unknown reconstruction {kind!r}; expected 'bernoulli' or 'gaussian'")
    return ops.sum(per_feature, axis=-1)


def gaussian_kl(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) in closed form, per sample."""
    return 0.5 * ops.sum(ops.exp(log_var) + ops.square(mean) - 1.0 - log_var, axis=-1)


class VAE(keras.Model):
    """x -> encoder -> [mean, log_var] -> z = mean + exp(log_var / 2) * eps -> decoder -> x.

    ``encoder`` maps x to 2 * latent_dim features (mean then log-variance); ``decoder`` maps z to
    logits ("bernoulli") or means ("gaussian") shaped like x. The loss is the negative ELBO per sample,
    averaged over the batch: reconstruction + kl_weight * KL (closed form).
    """

    def __init__(self, encoder, decoder, reconstruction="bernoulli", kl_weight=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.reconstruction, self.kl_weight = reconstruction, kl_weight
        self.seed_generator = keras.random.SeedGenerator(seed)

    def encode(self, x):
        mean, log_var = ops.split(self.encoder(x), 2, axis=-1)
        return mean, log_var

    def sample_noise(self, mean):
        return keras.random.normal(ops.shape(mean), seed=self.seed_generator, dtype=mean.dtype)

    def call(self, x, training=False):
        mean, log_var = self.encode(x)
        z = mean + ops.exp(0.5 * log_var) * self.sample_noise(mean) if training else mean
        return {"reconstruction": self.decoder(z), "mean": mean, "log_var": log_var}

    def loss_terms(self, x, noise):
        """Reconstruction and KL per sample for given reparameterisation noise (deterministic)."""
        mean, log_var = self.encode(x)
        z = mean + ops.exp(0.5 * log_var) * ops.convert_to_tensor(noise, dtype=mean.dtype)
        return {
            "reconstruction": reconstruction_loss(x, self.decoder(z), self.reconstruction),
            "kl": gaussian_kl(mean, log_var),
        }

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        mean, log_var = y_pred["mean"], y_pred["log_var"]
        if not training:  # evaluate: a fresh sample, like training, so the numbers compare
            y_pred = dict(
                y_pred, reconstruction=self.decoder(mean + ops.exp(0.5 * log_var) * self.sample_noise(mean))
            )
        reconstruction = reconstruction_loss(x, y_pred["reconstruction"], self.reconstruction)
        return ops.mean(reconstruction + self.kl_weight * gaussian_kl(mean, log_var))

    def generate(self, num_samples, latent_dim):
        """Decode draws from the N(0, I) prior (logits are passed through a sigmoid)."""
        z = keras.random.normal((num_samples, latent_dim), seed=self.seed_generator)
        decoded = self.decoder(z)
        return ops.sigmoid(decoded) if self.reconstruction == "bernoulli" else decoded


class ClusteringVAE(VAE):
    """A VAE whose prior is a mixture: p(y) uniform over clusters, p(z|y) = N(mu_y, I).

    ``classifier`` maps z to cluster logits (q(y|z)); the cluster centres mu_y are weights of the
    model. Loss per sample (one step, no pre-training):
        reconstruction + sum_y q(y|z) ||z - mu_y||² / 2 - sum(log_var) / 2 + sum_y q(y|z) log q(y|z)
    (KL(q(z|x) q(y|z) || p(z|y) p(y)) up to constants). ``predict_clusters`` = argmax q(y|mean).
    """

    def __init__(self, encoder, decoder, classifier, num_clusters, latent_dim, category_weight=1.0, **kwargs):
        super().__init__(encoder, decoder, **kwargs)
        self.classifier = classifier
        self.num_clusters, self.latent_dim, self.category_weight = num_clusters, latent_dim, category_weight
        self.cluster_means = self.add_weight(
            shape=(num_clusters, latent_dim), initializer="random_normal", name="cluster_means"
        )

    def call(self, x, training=False):
        mean, log_var = self.encode(x)
        z = mean + ops.exp(0.5 * log_var) * self.sample_noise(mean)  # the mixture terms need a sampled z
        return {
            "reconstruction": self.decoder(z),
            "mean": mean,
            "log_var": log_var,
            "z": z,
            "cluster_probs": ops.softmax(self.classifier(z)),
        }

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        z, probs, log_var = y_pred["z"], y_pred["cluster_probs"], y_pred["log_var"]
        reconstruction = reconstruction_loss(x, y_pred["reconstruction"], self.reconstruction)
        squared_to_means = ops.sum(ops.square(z[:, None, :] - self.cluster_means[None]), axis=-1)
        gaussian_term = ops.sum(probs * 0.5 * squared_to_means, axis=-1) - 0.5 * ops.sum(log_var, axis=-1)
        category_term = ops.sum(probs * ops.log(probs + 1e-8), axis=-1)
        return ops.mean(
            reconstruction + self.kl_weight * gaussian_term + self.category_weight * category_term
        )

    def predict_clusters(self, x, batch_size=256):
        """Hard cluster index per sample: argmax of q(y | z = posterior mean)."""
        mean, _ = ops.split(self.encoder.predict(x, batch_size=batch_size, verbose=0), 2, axis=-1)
        return ops.convert_to_numpy(ops.argmax(self.classifier(mean), axis=-1))

    def generate_from_cluster(self, cluster, num_samples):
        """Decode draws from p(z | y = cluster) = N(mu_cluster, I)."""
        noise = keras.random.normal((num_samples, self.latent_dim), seed=self.seed_generator)
        decoded = self.decoder(self.cluster_means[cluster][None, :] + noise)
        return ops.sigmoid(decoded) if self.reconstruction == "bernoulli" else decoded
