"""Adversarial training and gradient penalty as drop-in training-step wrappers.

Each function patches a compiled model in place so that ``model.fit`` trains
on a modified objective; nothing else in the script changes (bert4keras style):

    model.compile(...)
    adversarial_training(model, "Embedding-Token", epsilon=0.5)
    model.fit(...)

All three work on the token-embedding *matrix* E (shape (vocab, dim)):

* FGM: δ = ε·g/‖g‖ with g = ∂L/∂E; the step uses the gradient of L at E + δ.
* Gradient penalty: minimise L + ½ε‖∂L/∂E‖² (a smoothed version of FGM).
* VAT (semi-supervised): add α·KL(p(x; E) ‖ p(x; E + r)) where r is the
  direction that changes the prediction most, found by one power iteration
  from a random start. Unlabelled rows only need sample weight 0 for the
  supervised loss; the KL term uses every row.

On JAX (the default) they hook Keras's stateless loss function. On TensorFlow and
PyTorch they hook ``model.compute_loss``: the step's loss comes from a second forward pass
with the embedding matrix replaced inside a ``keras.StatelessScope`` (the first, clean pass
of Keras's own train step is then unused), and gradients of gradients come from nested
``tf.GradientTape`` / ``torch.autograd.grad(create_graph=True)``.
"""

import keras
from keras import ops


def _embedding_index(model, embedding_name):
    """Position of the embedding matrix in ``model.trainable_variables``."""
    layer = _find_layer(model, embedding_name)
    variable = getattr(layer, "embeddings", None)
    if variable is None:
        if not layer.trainable_weights:
            raise ValueError(f"layer {embedding_name!r} has no trainable weights to perturb")
        variable = layer.trainable_weights[0]
    for i, v in enumerate(model.trainable_variables):
        if v is variable:
            return i
    raise ValueError(f"the weights of layer {embedding_name!r} are not trainable in model {model.name!r}")


def _find_layer(model, name):
    """The layer called ``name`` (searched recursively), or a ValueError listing the names."""
    for layer in model._flatten_layers(include_self=False):
        if layer.name == name:
            return layer
    names = sorted(layer.name for layer in model._flatten_layers(include_self=False))
    raise ValueError(f"no layer named {name!r} in model {model.name!r}; layers: {names}")


def _check(model, embedding_name, who):
    """The backend is supported, the model compiled; returns the embedding's variable index."""
    if keras.backend.backend() not in ("jax", "tensorflow", "torch"):
        raise NotImplementedError(f"{who}: backend {keras.backend.backend()!r} is not supported")
    if getattr(model, "optimizer", None) is None:
        raise ValueError(f"{who}: compile the model before wrapping it")
    return _embedding_index(model, embedding_name)


def _patch(model, embedding_name, loss_fn, who):
    """Route training-mode loss computation through ``loss_fn(run, embedding, optimizer_variables)``.

    ``run(e)`` is Keras's own (loss, aux) with the embedding matrix replaced by e.
    """
    index = _check(model, embedding_name, who)
    original = model.compute_loss_and_updates

    def compute_loss_and_updates(
        trainable_variables,
        non_trainable_variables,
        metrics_variables,
        x,
        y,
        sample_weight,
        training=False,
        optimizer_variables=None,
    ):
        args = (trainable_variables, non_trainable_variables, metrics_variables, x, y, sample_weight)
        if not training:
            return original(*args, training=False, optimizer_variables=optimizer_variables)

        def run(embedding):
            variables = list(trainable_variables)
            variables[index] = embedding
            return original(variables, *args[1:], training=True, optimizer_variables=optimizer_variables)

        return loss_fn(run, trainable_variables[index], optimizer_variables)

    model.compute_loss_and_updates = compute_loss_and_updates
    model.train_function = None  # retrace with the new loss
    return model


def _unit(x):
    return x / (ops.sqrt(ops.sum(ops.square(x))) + 1e-8)


def _patch_eager(model, embedding_name, loss_fn):
    """TensorFlow / PyTorch: ``loss_fn(run, embedding)`` gives the training loss, where
    ``run(e)`` is (loss, y_pred) of a forward pass with the embedding matrix replaced by e."""
    variable = model.trainable_variables[_embedding_index(model, embedding_name)]
    original = model.compute_loss

    def compute_loss(x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not training:
            return original(x, y, y_pred, sample_weight, training=False)

        def run(embedding):
            with keras.StatelessScope(state_mapping=[(variable, embedding)], collect_losses=True):
                pred = model(x, training=True)
                return original(x, y, pred, sample_weight, training=True), pred

        return loss_fn(run, variable.value)

    model.compute_loss = compute_loss
    model.train_function = None
    return model


def _value_and_grad(f, x, create_graph=False):
    """(f(x), ∂f/∂x) on TensorFlow or PyTorch; ``create_graph``: keep it differentiable."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            value = f(x)
        return value, tf.convert_to_tensor(tape.gradient(value, x))  # IndexedSlices: sum repeated rows
    import torch

    if not x.requires_grad:
        x = x.detach().requires_grad_(True)
    if create_graph:  # the fused CPU attention kernels have no second derivative; the math one has
        from torch.nn.attention import SDPBackend, sdpa_kernel

        with sdpa_kernel(SDPBackend.MATH):
            value = f(x)
    else:
        value = f(x)
    return value, torch.autograd.grad(value, x, create_graph=create_graph)[0]


def adversarial_training(model, embedding_name="Embedding-Token", epsilon=1.0):
    """FGM on the embedding matrix: train on the loss at E + ε·ĝ (bert4keras semantics)."""
    if keras.backend.backend() != "jax":
        _check(model, embedding_name, "adversarial_training")

        def eager_loss(run, embedding):
            _, grad = _value_and_grad(lambda e: run(e)[0], embedding)
            return run(embedding + ops.stop_gradient(epsilon * _unit(grad)))[0]

        return _patch_eager(model, embedding_name, eager_loss)
    import jax

    def loss_fn(run, embedding, optimizer_variables):
        grad = jax.grad(lambda e: run(e)[0])(embedding)
        delta = ops.stop_gradient(epsilon * _unit(grad))
        return run(embedding + delta)

    return _patch(model, embedding_name, loss_fn, "adversarial_training")


def gradient_penalty(model, embedding_name="Embedding-Token", epsilon=1.0):
    """Train on L + ½ε‖∂L/∂E‖²; the logged loss includes the penalty."""
    if keras.backend.backend() != "jax":
        _check(model, embedding_name, "gradient_penalty")

        def eager_loss(run, embedding):
            loss, grad = _value_and_grad(lambda e: run(e)[0], embedding, create_graph=True)
            return loss + 0.5 * epsilon * ops.sum(ops.square(grad))

        return _patch_eager(model, embedding_name, eager_loss)
    import jax

    def loss_fn(run, embedding, optimizer_variables):
        (loss, aux), grad = jax.value_and_grad(run, has_aux=True)(embedding)
        penalty = 0.5 * epsilon * ops.sum(ops.square(grad))
        unscaled_loss, y_pred, non_trainable, metrics = aux
        return loss + penalty, (unscaled_loss + penalty, y_pred, non_trainable, metrics)

    return _patch(model, embedding_name, loss_fn, "gradient_penalty")


def virtual_adversarial_training(
    model, embedding_name="Embedding-Token", epsilon=1.0, xi=1e-2, alpha=1.0, from_logits=False, seed=0
):
    """VAT on the embedding matrix, weighted by ``alpha``; the logged loss includes it.

    The model's (first) output must be a probability distribution over its
    last axis, or logits with ``from_logits=True``. ``xi`` is the size of the
    random probe per embedding row, ``epsilon`` the norm of the final
    perturbation (as in FGM). The probe is drawn from ``seed`` and the
    optimizer step count (JAX) or from a ``keras.random.SeedGenerator(seed)`` made here
    (TensorFlow, PyTorch), so runs are reproducible.
    """

    def log_probs(y_pred):
        y_pred = ops.cast(keras.tree.flatten(y_pred)[0], "float32")
        if from_logits:
            return ops.log_softmax(y_pred, axis=-1)
        return ops.log(ops.clip(y_pred, 1e-7, 1.0))

    def kl_from(log_p, y_pred):
        log_q = log_probs(y_pred)
        return ops.mean(ops.sum(ops.exp(log_p) * (log_p - log_q), axis=-1))

    def probe(noise):  # norm xi per embedding row
        return xi * noise / (ops.sqrt(ops.sum(ops.square(noise), axis=-1, keepdims=True)) + 1e-8)

    if keras.backend.backend() != "jax":
        _check(model, embedding_name, "virtual_adversarial_training")
        seed_generator = keras.random.SeedGenerator(seed)

        def eager_loss(run, embedding):
            loss, y_pred = run(embedding)
            log_p = ops.stop_gradient(log_probs(y_pred))
            start = probe(keras.random.normal(tuple(embedding.shape), seed=seed_generator))
            _, grad = _value_and_grad(lambda d: kl_from(log_p, run(embedding + d)[1]), start)
            r_adv = ops.stop_gradient(epsilon * _unit(grad))
            return loss + alpha * kl_from(log_p, run(embedding + r_adv)[1])

        return _patch_eager(model, embedding_name, eager_loss)
    import jax

    def loss_fn(run, embedding, optimizer_variables):
        loss, aux = run(embedding)
        log_p = ops.stop_gradient(log_probs(aux[1]))
        # The step counter as traced inside this train step (not the stale variable).
        counter = [id(v) for v in model.optimizer.variables].index(id(model.optimizer.iterations))
        step = optimizer_variables[counter]
        key = jax.random.fold_in(jax.random.key(seed), step)
        # Random start with norm xi per embedding row: a global norm would make each
        # row's share vanish for large vocabularies.
        start = probe(jax.random.normal(key, embedding.shape, embedding.dtype))
        grad = jax.grad(lambda d: kl_from(log_p, run(embedding + d)[1][1]))(start)
        r_adv = ops.stop_gradient(epsilon * _unit(grad))
        vat = kl_from(log_p, run(embedding + r_adv)[1][1])
        unscaled_loss, y_pred, non_trainable, metrics = aux
        return loss + alpha * vat, (unscaled_loss + alpha * vat, y_pred, non_trainable, metrics)

    return _patch(model, embedding_name, loss_fn, "virtual_adversarial_training")
