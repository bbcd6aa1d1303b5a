"""VQ-VAE: nearest-codebook quantisation with the straight-through estimator, and a code prior.

The decoder sees ``z_e + stop_gradient(z_q - z_e)``: its value is the quantised vector z_q, its
gradient with respect to the encoder output z_e is the identity. The loss adds
``||sg(z_e) - z_q||²`` (moves the codebook) and ``beta * ||z_e - sg(z_q)||²`` (commitment).
``CodePrior`` is a small causal Transformer over the flattened code grid, so the model can generate.
"""

import keras
import numpy as np
from keras import layers, ops


class VectorQuantizer(layers.Layer):
    """Maps (..., code_dim) vectors to their nearest codebook entries."""

    def __init__(self, num_codes, code_dim, **kwargs):
        super().__init__(**kwargs)
        self.num_codes, self.code_dim = num_codes, code_dim
        self.codebook = self.add_weight(
            shape=(num_codes, code_dim),
            name="codebook",
            initializer=keras.initializers.RandomUniform(-1.0 / num_codes, 1.0 / num_codes),
        )

    def code_indices(self, z_e):
        flat = ops.reshape(z_e, (-1, self.code_dim))
        distances = (
            ops.sum(ops.square(flat), axis=-1, keepdims=True)
            - 2.0 * ops.matmul(flat, ops.transpose(self.codebook))
            + ops.sum(ops.square(self.codebook), axis=-1)[None, :]
        )
        return ops.reshape(ops.argmin(distances, axis=-1), ops.shape(z_e)[:-1])

    def lookup(self, indices):
        return ops.take(self.codebook, indices, axis=0)

    def call(self, z_e):
        """Returns (straight-through output, quantised z_q, code indices)."""
        indices = self.code_indices(z_e)
        z_q = self.lookup(indices)
        return z_e + ops.stop_gradient(z_q - z_e), z_q, indices


def codebook_usage(indices, num_codes):
    """(counts per code, perplexity exp(H(usage)), number of unused codes) of an index array."""
    counts = np.bincount(np.asarray(indices).reshape(-1), minlength=num_codes)
    probs = counts / max(counts.sum(), 1)
    entropy = -np.sum(probs[probs > 0] * np.log(probs[probs > 0]))
    return counts, float(np.exp(entropy)), int(np.sum(counts == 0))


class VQVAE(keras.Model):
    """encoder -> VectorQuantizer -> decoder, trained with Keras's own ``fit(x)`` on any backend.

    Loss per batch: mean squared reconstruction error + codebook loss + beta * commitment loss.
    """

    def __init__(self, encoder, decoder, num_codes, code_dim, beta=0.25, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder, self.beta = encoder, decoder, beta
        self.quantizer = VectorQuantizer(num_codes, code_dim, name="quantizer")

    def call(self, x, training=False):
        z_e = self.encoder(x)
        straight_through, z_q, indices = self.quantizer(z_e)
        return {"reconstruction": self.decoder(straight_through), "z_e": z_e, "z_q": z_q, "indices": indices}

    def loss_terms(self, x, outputs):
        z_e, z_q = outputs["z_e"], outputs["z_q"]
        return {
            "reconstruction": ops.mean(ops.square(ops.subtract(x, outputs["reconstruction"]))),
            "codebook": ops.mean(ops.square(ops.stop_gradient(z_e) - z_q)),
            "commitment": ops.mean(ops.square(z_e - ops.stop_gradient(z_q))),
        }

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        terms = self.loss_terms(x, y_pred)
        return terms["reconstruction"] + terms["codebook"] + self.beta * terms["commitment"]

    def encode_to_codes(self, x, batch_size=256):
        z_e = self.encoder.predict(x, batch_size=batch_size, verbose=0)
        return ops.convert_to_numpy(self.quantizer.code_indices(ops.convert_to_tensor(z_e)))

    def decode_codes(self, indices):
        return ops.convert_to_numpy(self.decoder(self.quantizer.lookup(ops.convert_to_tensor(indices))))

    def revive_dead_codes(self, x, seed=0):
        """Move every code no sample of ``x`` uses onto a random encoder output; returns how many."""
        z_e = self.encoder.predict(x, verbose=0).reshape(-1, self.quantizer.code_dim)
        counts, _, _ = codebook_usage(
            self.quantizer.code_indices(ops.convert_to_tensor(z_e)), self.quantizer.num_codes
        )
        dead = np.flatnonzero(counts == 0)
        if len(dead):
            rng = np.random.default_rng(seed)
            codebook = ops.convert_to_numpy(self.quantizer.codebook).copy()
            codebook[dead] = z_e[rng.choice(len(z_e), size=len(dead), replace=len(dead) > len(z_e))]
            self.quantizer.codebook.assign(codebook)
        return len(dead)


class CodebookMonitor(keras.callbacks.Callback):
    """At each epoch end: logs ``perplexity`` and ``dead_codes`` on ``x``, then revives dead codes."""

    def __init__(self, x, revive=True):
        super().__init__()
        self.x, self.revive, self.history = x, revive, []

    def on_epoch_end(self, epoch, logs=None):
        codes = self.model.encode_to_codes(self.x)
        _, perplexity, dead = codebook_usage(codes, self.model.quantizer.num_codes)
        revived = self.model.revive_dead_codes(self.x, seed=epoch) if self.revive and dead else 0
        self.history.append(
            {"epoch": epoch, "perplexity": perplexity, "dead_codes": dead, "revived": revived}
        )
        if logs is not None:
            logs.update(perplexity=perplexity, dead_codes=dead)


class CodePrior(keras.Model):
    """Autoregressive prior p(c_1..c_T) = prod_t p(c_t | c_<t) over flattened code grids.

    Input: codes shifted right behind a start token (index ``num_codes``); output: logits per position.
    """

    def __init__(self, num_codes, sequence_length, hidden=64, heads=4, num_layers=2, **kwargs):
        super().__init__(**kwargs)
        self.num_codes, self.sequence_length = num_codes, sequence_length
        self.token_embedding = layers.Embedding(num_codes + 1, hidden)
        self.position_embedding = layers.Embedding(sequence_length, hidden)
        self.blocks = [
            (
                layers.LayerNormalization(),
                layers.MultiHeadAttention(heads, hidden // heads),
                layers.LayerNormalization(),
                layers.Dense(2 * hidden, activation="gelu"),
                layers.Dense(hidden),
            )
            for _ in range(num_layers)
        ]
        self.final_norm = layers.LayerNormalization()
        self.logits = layers.Dense(num_codes)

    def call(self, inputs):
        h = self.token_embedding(inputs) + self.position_embedding(ops.arange(ops.shape(inputs)[1]))[None]
        for norm1, attention, norm2, up, down in self.blocks:
            normed = norm1(h)
            h = h + attention(normed, normed, use_causal_mask=True)
            h = h + down(up(norm2(h)))
        return self.logits(self.final_norm(h))

    def teacher_forcing_inputs(self, codes):
        """(batch, T) codes -> (start token, c_1, ..., c_{T-1})."""
        codes = np.asarray(codes).reshape(len(codes), -1)
        start = np.full((len(codes), 1), self.num_codes, dtype=codes.dtype)
        return np.concatenate([start, codes[:, :-1]], axis=1)

    def sample(self, num_samples, temperature=1.0, seed=0):
        """Draw code sequences one position at a time (ancestral sampling)."""
        rng = np.random.default_rng(seed)
        codes = np.zeros((num_samples, self.sequence_length), dtype="int32")
        for t in range(self.sequence_length):
            logits = ops.convert_to_numpy(self(self.teacher_forcing_inputs(codes)))[:, t] / temperature
            probs = np.exp(logits - logits.max(-1, keepdims=True))
            probs /= probs.sum(-1, keepdims=True)
            codes[:, t] = [rng.choice(self.num_codes, p=p) for p in probs]
        return codes
