"""A GAN trained from one loss: ``stop_gradient`` decides which network each term can move.

The usual formulation alternates two losses (non-saturating, D outputs logits):
    L_D(θ_D) = softplus(-D(x)) + softplus(D(G(z)))         with G held fixed
    L_G(θ_G) = softplus(-D(G(z)))                          with D held fixed
One loss gives every parameter exactly its own gradient (f = G(z), sg = stop_gradient):
    L = softplus(-D(x)) + softplus(D(sg(f)))                      -> reaches θ_D only
        + softplus(-D(f)) - softplus(-D(sg(f)))                   -> θ_D parts cancel; reaches θ_G only
        + sg(softplus(-D(sg(f))))                                 -> restores the value L_D + L_G
The two D(·) of the cancelling pair see the same values, so their θ_D gradients are equal and cancel;
only D(f) depends on θ_G. Both networks then update at once from Keras's own ``train_step``.
"""

import keras
from keras import ops


class OneLossGAN(keras.Model):
    """``generator``: z (latent_dim) -> sample; ``discriminator``: sample -> one logit. ``fit(real_data)``."""

    def __init__(self, generator, discriminator, latent_dim, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.generator, self.discriminator, self.latent_dim = generator, discriminator, latent_dim
        self.seed_generator = keras.random.SeedGenerator(seed)

    def sample_latent(self, num_samples):
        return keras.random.normal((num_samples, self.latent_dim), seed=self.seed_generator)

    def call(self, real, training=False):
        return self.logits(real, self.sample_latent(ops.shape(real)[0]))

    def logits(self, real, z):
        fake = self.generator(z)
        return {
            "real": self.discriminator(real),
            "fake_detached": self.discriminator(ops.stop_gradient(fake)),
            "fake": self.discriminator(fake),
        }

    @staticmethod
    def single_loss(logits):
        discriminator_loss = ops.mean(ops.softplus(-logits["real"]) + ops.softplus(logits["fake_detached"]))
        generator_only = ops.mean(ops.softplus(-logits["fake"]) - ops.softplus(-logits["fake_detached"]))
        generator_value = ops.stop_gradient(ops.mean(ops.softplus(-logits["fake_detached"])))
        return discriminator_loss + generator_only + generator_value

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return self.single_loss(y_pred)

    def generate(self, num_samples):
        return self.generator(self.sample_latent(num_samples))


def two_loss_reference(gan, real, z):
    """The alternating formulation's two losses on the same batch: (L_D, L_G)."""
    fake = gan.generator(z)
    d_real, d_fake = gan.discriminator(real), gan.discriminator(fake)
    discriminator_loss = ops.mean(ops.softplus(-d_real) + ops.softplus(d_fake))
    generator_loss = ops.mean(ops.softplus(-d_fake))
    return discriminator_loss, generator_loss
