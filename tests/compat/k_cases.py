"""Calls of bert4keras's ``K`` (Keras 2's backend) that scripts rely on, run the same way under
bert4keras (make_k_fixture.py records the answers) and kerasformers (test_backend_k.py compares).

Each case is ``name -> f(K, inputs)``; ``inputs`` are the arrays of ``make_inputs()`` turned into backend
tensors (``K.constant``), as they are inside a Keras 2 ``Lambda``. Only
Keras 2 call forms appear here: defaults (axis=-1 for concatenate/argmax, cumsum's axis=0, ...)
are exactly what scripts depend on.
"""

import numpy as np


def make_inputs():
    rng = np.random.default_rng(2024)
    return {
        "a": rng.normal(size=(2, 3, 4)).astype("float32"),
        "b": rng.normal(size=(2, 3, 4)).astype("float32"),
        "k": rng.normal(size=(2, 5, 4)).astype("float32"),
        "m": rng.normal(size=(3, 4)).astype("float32"),
        "w": rng.normal(size=(4, 6)).astype("float32"),
        "v": rng.normal(size=(2, 4)).astype("float32"),
        "p": rng.uniform(0.05, 0.95, size=(2, 3, 4)).astype("float32"),
        "t": (rng.uniform(size=(2, 3, 4)) > 0.5).astype("float32"),
        "ids": np.array([[1, 0, 3], [2, 2, 1]], dtype="int32"),
        "mask": np.array([[1, 1, 0], [1, 0, 0]], dtype="float32"),
    }


def _softmax(K, x):
    return K.softmax(x)


CASES = {
    # joins / reductions whose defaults differ from NumPy's
    "concatenate_default_axis": lambda K, i: K.concatenate([i["a"], i["b"]]),
    "concatenate_axis_1": lambda K, i: K.concatenate([i["a"], i["b"]], 1),
    "argmax_default_axis": lambda K, i: K.argmax(i["a"]),
    "argmax_axis_1": lambda K, i: K.argmax(i["a"], 1),
    "argmin_default_axis": lambda K, i: K.argmin(i["a"]),
    "cumsum_default_axis": lambda K, i: K.cumsum(i["a"]),
    "cumsum_axis_2": lambda K, i: K.cumsum(i["a"], 2),
    "cumprod_default_axis": lambda K, i: K.cumprod(i["p"]),
    "expand_dims_default_axis": lambda K, i: K.expand_dims(i["m"]),
    "sum_all": lambda K, i: K.sum(i["a"]),
    "sum_axis_keepdims": lambda K, i: K.sum(i["a"], 1, keepdims=True),
    "mean_axis": lambda K, i: K.mean(i["a"], axis=-1),
    "max_axis": lambda K, i: K.max(i["a"], 1),
    "min_all": lambda K, i: K.min(i["a"]),
    "prod_axis": lambda K, i: K.prod(i["p"], -1),
    "std_axis": lambda K, i: K.std(i["a"], 1),
    "var_axis": lambda K, i: K.var(i["a"], -1),
    "logsumexp_axis": lambda K, i: K.logsumexp(i["a"], 1),
    "any_axis": lambda K, i: K.cast(K.any(K.greater(i["a"], 1.0), -1), "float32"),
    "all_axis": lambda K, i: K.cast(K.all(K.greater(i["a"], -1.0), 1), "float32"),
    # products
    "batch_dot_default": lambda K, i: K.batch_dot(i["a"], i["k"][:, :4, :3]),
    "batch_dot_axes_2_2": lambda K, i: K.batch_dot(i["a"], i["k"], axes=[2, 2]),
    "batch_dot_axes_int": lambda K, i: K.batch_dot(i["a"], i["b"], axes=2),
    "batch_dot_axes_1_1": lambda K, i: K.batch_dot(i["a"], i["b"], axes=(1, 1)),
    "batch_dot_2d": lambda K, i: K.batch_dot(i["v"], i["v"], axes=1),
    "batch_dot_3d_2d": lambda K, i: K.batch_dot(i["a"], i["v"], axes=[2, 1]),
    "dot_2d": lambda K, i: K.dot(i["m"], i["w"]),
    "dot_3d_2d": lambda K, i: K.dot(i["a"], i["w"]),
    # shape manipulation
    "permute_dimensions": lambda K, i: K.permute_dimensions(i["a"], (0, 2, 1)),
    "transpose_2d": lambda K, i: K.transpose(i["m"]),
    "reshape": lambda K, i: K.reshape(i["a"], (2, -1)),
    "flatten": lambda K, i: K.flatten(i["a"]),
    "batch_flatten": lambda K, i: K.batch_flatten(i["a"]),
    "repeat_elements": lambda K, i: K.repeat_elements(i["m"], 2, 1),
    "tile": lambda K, i: K.tile(i["m"], (2, 1)),
    "stack_default_axis": lambda K, i: K.stack([i["m"], i["m"] * 2]),
    "squeeze": lambda K, i: K.squeeze(K.expand_dims(i["m"], 1), 1),
    "temporal_padding": lambda K, i: K.temporal_padding(i["a"], (1, 2)),
    "one_hot": lambda K, i: K.one_hot(i["ids"], 4),
    "gather": lambda K, i: K.gather(i["w"], i["ids"]),
    "arange_dtype": lambda K, i: (
        K.cast(K.arange(5), "float32") + K.cast(K.dtype(K.arange(5)) == "int32", "float32")
    ),
    "eye": lambda K, i: K.eye(3),
    "switch_broadcast": lambda K, i: K.switch(K.greater(i["mask"], 0.5), i["a"][..., 0], -i["a"][..., 0]),
    # element-wise and normalisation
    "l2_normalize_default": lambda K, i: K.l2_normalize(i["m"]),
    "l2_normalize_axis": lambda K, i: K.l2_normalize(i["a"], axis=-1),
    "softmax": lambda K, i: _softmax(K, i["a"]),
    "relu_alpha": lambda K, i: K.relu(i["a"], alpha=0.1),
    "relu_max_value": lambda K, i: K.relu(i["a"], max_value=0.5),
    "clip": lambda K, i: K.clip(i["a"], -0.5, 0.5),
    "pow": lambda K, i: K.pow(i["p"], 3),
    "where_compat": lambda K, i: K.maximum(i["a"], i["b"]) - K.minimum(i["a"], i["b"]),
    "sign_abs_round": lambda K, i: K.sign(i["a"]) * K.abs(i["a"]) + K.round(i["a"] * 3),
    "exp_log_sqrt_square": lambda K, i: K.exp(i["p"]) + K.log(i["p"]) + K.sqrt(i["p"]) + K.square(i["a"]),
    "sigmoid_tanh_softplus": lambda K, i: K.sigmoid(i["a"]) + K.tanh(i["a"]) + K.softplus(i["a"]),
    "sin_cos": lambda K, i: K.sin(i["a"]) + K.cos(i["a"]),
    "comparisons": lambda K, i: (
        K.cast(K.equal(i["ids"], 2), "float32")
        + K.cast(K.not_equal(i["ids"], 1), "float32")
        + K.cast(K.less(i["ids"], 2), "float32")
        + K.cast(K.less_equal(i["ids"], 1), "float32")
        + K.cast(K.greater_equal(i["ids"], 1), "float32")
    ),
    "zeros_ones_like": lambda K, i: K.zeros_like(i["a"]) + 2 * K.ones_like(i["a"]),
    "stop_gradient": lambda K, i: K.stop_gradient(i["a"]),
    "int_shape": lambda K, i: K.constant(list(K.int_shape(i["a"]))),
    "ndim": lambda K, i: K.constant(K.ndim(i["a"])),
    "epsilon_floatx": lambda K, i: K.constant([K.epsilon(), float(K.floatx() == "float32")]),
    "shape_index": lambda K, i: K.cast(K.shape(i["a"])[1], "float32"),
    # losses (Keras 2 clips probabilities at epsilon and takes target first)
    "categorical_crossentropy": lambda K, i: K.categorical_crossentropy(i["t"], _softmax(K, i["a"])),
    "categorical_crossentropy_logits": lambda K, i: K.categorical_crossentropy(
        i["t"], i["a"], from_logits=True
    ),
    "sparse_categorical_crossentropy": lambda K, i: K.sparse_categorical_crossentropy(
        K.cast(i["ids"], "float32"), _softmax(K, i["a"])
    ),
    "sparse_categorical_crossentropy_logits": lambda K, i: K.sparse_categorical_crossentropy(
        i["ids"], i["a"], from_logits=True
    ),
    "binary_crossentropy": lambda K, i: K.binary_crossentropy(i["t"], i["p"]),
    "binary_crossentropy_logits": lambda K, i: K.binary_crossentropy(i["t"], i["a"], from_logits=True),
}


def _with_weights(layer, inputs, seed=5):
    """Call ``layer``, give every weight deterministic values (std 0.3 around 0, gains near 1),
    call again: the same numbers under Keras 2 (graph mode) and Keras 3."""
    layer(inputs)
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [
            (rng.normal(size=w.shape) * 0.3 + (1.0 if "gamma" in w.name else 0.0)).astype("float32")
            for w in layer.weights
        ]
    )
    return layer(inputs)


# bert4keras's own backend helpers and layers: f(backend_module, layers_module, inputs).
BERT4KERAS_CASES = {
    "sequence_masking_axis_2": lambda B, L, i: B.sequence_masking(i["k"][:, :3, :3], i["mask"], -1e4, 2),
    "sequence_masking_axes_list": lambda B, L, i: B.sequence_masking(i["sq"], i["mask"], 0, [1, 2]),
    "sequence_masking_bias": lambda B, L, i: B.sequence_masking(i["a"], i["mask"], -1e4, 1, i["bias"]),
    "attention_normalize_softmax": lambda B, L, i: B.attention_normalize(i["sq"], i["mask"], -1),
    "attention_normalize_squared_relu": lambda B, L, i: B.attention_normalize(
        i["sq"], i["mask"], -1, "squared_relu"
    ),
    "attention_normalize_softmax_plus": lambda B, L, i: B.attention_normalize(
        i["sq"], i["mask"], -1, "softmax_plus"
    ),
    "align": lambda B, L, i: B.align(i["m"], [0, 2], 4) + 0.0 * i["a"][:1, :1, :1, None],
    "reshape_pairs": lambda B, L, i: B.reshape(i["k"], (2, -1), 2),
    "flatten_range": lambda B, L, i: B.flatten(i["k"], 1, 3),
    "where_broadcast": lambda B, L, i: B.where(i["mask"][..., None], i["a"], 0.5),
    "pool1d_max": lambda B, L, i: B.pool1d(i["k"], 2, 2),
    "pool1d_avg": lambda B, L, i: B.pool1d(i["k"], 2, 1, pool_mode="avg"),
    "divisible_temporal_padding": lambda B, L, i: B.divisible_temporal_padding(i["a"], 4),
    "leaky_relu": lambda B, L, i: B.leaky_relu(i["a"], 0.3),
    "sinusoidal_embeddings": lambda B, L, i: B.sinusoidal_embeddings(i["pos"], 6),
    "root_mean_square": lambda B, L, i: B.root_mean_square(i["a"], -1, True),
    "multilabel_categorical_crossentropy": lambda B, L, i: B.multilabel_categorical_crossentropy(
        i["t"], i["a"]
    ),
    "sinusoidal_position_add": lambda B, L, i: L.SinusoidalPositionEmbedding(4)(i["a"]),
    "sinusoidal_position_mul": lambda B, L, i: L.SinusoidalPositionEmbedding(4, "mul")(i["a"]),
    "sinusoidal_position_zero": lambda B, L, i: L.SinusoidalPositionEmbedding(6, "zero")(i["a"]),
    "sinusoidal_position_concat": lambda B, L, i: L.SinusoidalPositionEmbedding(6, "concat")(i["a"]),
    "sinusoidal_position_custom": lambda B, L, i: L.SinusoidalPositionEmbedding(4, custom_position_ids=True)(
        [i["a"], i["pos"]]
    ),
    "scale_offset": lambda B, L, i: _with_weights(L.ScaleOffset(), i["a"]),
    "scale_offset_constants": lambda B, L, i: L.ScaleOffset(scale=2.0, offset=False)(i["a"]),
    "scale_offset_conditional": lambda B, L, i: _with_weights(
        L.ScaleOffset(conditional=True), [i["a"], i["v"]]
    ),
    "scale_offset_conditional_hidden": lambda B, L, i: _with_weights(
        L.ScaleOffset(conditional=True, hidden_units=3, hidden_activation="tanh"), [i["a"], i["v"]]
    ),
    "concatenate_1d": lambda B, L, i: L.Concatenate1D()([i["a"], i["k"]]),
    "batch_split_concat": lambda B, L, i: L.BatchConcat()(L.BatchSplit(2)(i["k"])[::-1]),
    "batch_split_parts": lambda B, L, i: L.BatchSplit([1, 1])(i["k"])[1],
}


def make_bert4keras_inputs():
    rng = np.random.default_rng(99)
    inputs = make_inputs()
    inputs["sq"] = rng.normal(size=(2, 3, 3)).astype("float32")
    inputs["bias"] = rng.normal(size=(2, 3, 4)).astype("float32")
    inputs["pos"] = np.array([[0, 2, 1], [3, 3, 0]], dtype="float32")
    return inputs
