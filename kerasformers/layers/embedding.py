"""Token and learned position embeddings."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasformers")
class Embedding(keras.layers.Embedding):
    """Token embedding that doubles as the tied output projection.

    ``mode='embedding'``: ids (batch, seq) → vectors (batch, seq, dim).
    ``mode='dense'``: hidden states (batch, seq, dim) → logits x·Eᵀ (batch, seq, vocab),
    which is how BERT's MLM head and GPT's LM head reuse the input embedding.
    ``mask_id``: ids equal to it produce a Keras mask that follows the sequence through the
    model (bert4keras's ``mask_zero``, generalised to vocabularies whose pad id is not 0).
    """

    def __init__(self, *args, mask_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.mask_id = mask_id
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        if "int" not in str(inputs.dtype):  # dense mode: hidden states keep their mask
            return mask
        if self.mask_id is None:
            return None
        return ops.not_equal(inputs, self.mask_id)

    def get_config(self):
        return {**super().get_config(), "mask_id": self.mask_id}

    def call(self, inputs, mode="embedding"):
        if mode == "dense":
            kernel = ops.cast(self.embeddings, self.compute_dtype)
            return ops.matmul(ops.cast(inputs, self.compute_dtype), ops.transpose(kernel))
        return super().call(ops.cast(inputs, "int32"))

    def quantize(self, mode=None, type_check=True, config=None):
        """int8 only: Keras refuses subclasses, but the lookup is Keras's own and the tied
        ``mode='dense'`` projection below knows the per-row scales."""
        if mode != "int8":
            raise NotImplementedError(f"{type(self).__name__} supports int8 quantization only, got {mode!r}")
        super().quantize(mode, type_check=False, config=config)

    def _int8_call(self, inputs, mode="embedding", training=None):
        if mode == "dense":  # row v of the table is int8 / scale[v], so logit v is (x · q_v) / scale[v]
            kernel = ops.cast(self._embeddings, self.compute_dtype)
            logits = ops.matmul(ops.cast(inputs, self.compute_dtype), ops.transpose(kernel))
            return logits / ops.cast(self.embeddings_scale, self.compute_dtype)
        return super()._int8_call(ops.cast(inputs, "int32"), training=training)

    def compute_output_shape(self, input_shape, mode="embedding"):
        if mode == "dense":
            return tuple(input_shape[:-1]) + (self.input_dim,)
        return super().compute_output_shape(input_shape)

    def compute_output_spec(self, inputs, mode="embedding"):
        shape = self.compute_output_shape(inputs.shape, mode=mode)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)


@keras.saving.register_keras_serializable(package="kerasformers")
class PositionEmbedding(keras.layers.Layer):
    """Learned absolute positions, merged into the input.

    Call with ``x`` (batch, seq, dim), or with ``[x, position_ids]`` when
    ``custom_position_ids=True`` (position_ids: (batch or 1, seq) ints).
    ``merge_mode``: 'add' (BERT), 'mul', or 'zero' (return the position vectors only).
    ``hierarchical``: True (alpha 0.4) or alpha in (0, 1) reaches input_dim² positions with the
    input_dim-row table (bert4keras's hierarchical decomposition, https://kexue.fm/archives/7947):
    with u = (E - alpha·E₀) / (1 - alpha), position i = q·n + r gets alpha·u_q + (1 - alpha)·u_r,
    which equals E_i for i < n, so a pretrained table keeps its first n positions.
    """

    def __init__(
        self,
        input_dim,
        output_dim,
        merge_mode="add",
        custom_position_ids=False,
        embeddings_initializer="zeros",
        hierarchical=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if merge_mode not in ("add", "mul", "zero"):
            raise ValueError(f"merge_mode must be 'add', 'mul' or 'zero', got {merge_mode!r}")
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.merge_mode = merge_mode
        self.custom_position_ids = custom_position_ids
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        if (
            hierarchical is not None
            and hierarchical is not False
            and hierarchical is not True
            and not 0 < hierarchical < 1
        ):
            raise ValueError(f"hierarchical must be True or an alpha in (0, 1), got {hierarchical!r}")
        self.hierarchical = hierarchical
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return mask[0] if isinstance(mask, (list, tuple)) else mask

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.input_dim, self.output_dim),
            initializer=self.embeddings_initializer,
        )

    def hierarchical_embeddings(self, position_ids):
        alpha = 0.4 if self.hierarchical is True else float(self.hierarchical)
        table = (self.embeddings - alpha * self.embeddings[:1]) / (1.0 - alpha)
        coarse = ops.take(table, position_ids // self.input_dim, axis=0)
        fine = ops.take(table, position_ids % self.input_dim, axis=0)
        return alpha * coarse + (1.0 - alpha) * fine

    def call(self, inputs):
        if self.custom_position_ids:
            x, position_ids = inputs
        else:
            x, position_ids = inputs, None
        return self._merge(x, position_ids)

    def incremental_call(self, inputs, step):
        """Cached decoding: the new tokens sit at the decoder's positions (B|1, T)."""
        x = inputs[0] if self.custom_position_ids else inputs
        return self._merge(x, step.position_ids)

    def _merge(self, x, position_ids):
        """Merge the table rows of ``position_ids`` (None: 0..T-1) into ``x`` (B, T, ·)."""
        if position_ids is None and not self.hierarchical:
            position_embeddings = ops.expand_dims(self.embeddings[: ops.shape(x)[1]], 0)  # (1, T, dim)
        else:
            if position_ids is None:
                position_ids = ops.arange(ops.shape(x)[1])[None]
            position_ids = ops.cast(position_ids, "int32")
            if self.hierarchical:
                position_embeddings = self.hierarchical_embeddings(position_ids)
            else:
                position_embeddings = ops.take(self.embeddings, position_ids, axis=0)
        position_embeddings = ops.cast(position_embeddings, self.compute_dtype)
        if self.merge_mode == "add":
            return x + position_embeddings
        if self.merge_mode == "mul":
            return x * (position_embeddings + 1.0)
        return ops.broadcast_to(position_embeddings, ops.shape(x)[:2] + (self.output_dim,))

    def compute_output_shape(self, input_shape):
        if self.custom_position_ids:
            input_shape = input_shape[0]
        return tuple(input_shape[:2]) + (self.output_dim,)

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "merge_mode": self.merge_mode,
            "custom_position_ids": self.custom_position_ids,
            "hierarchical": self.hierarchical,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        }
