"""Which variable of a layer each checkpoint name in a `variable_mapping` entry goes to.

A mapping entry lists checkpoint names in a fixed order per layer kind (q, k, v, o; kernel
before bias; gamma before beta). The variables are put in that order *by their paths*, never by
the order `build` happened to create them in, so two same-shaped weights (q and k) cannot swap
silently. A layer with several sub-layers or named weights declares `weight_order` (paths
relative to the layer); for the others, the layer's own variables come first — kernel, gamma
or embeddings before bias or beta — then its sub-layers' variables. Variables the order does
not name (LoRA factors, int8 scales, a conditional LayerNorm's projections) come last, in build
order.
"""

_KIND_RANK = {"kernel": 0, "gamma": 0, "embeddings": 0, "bias": 1, "beta": 1}


def relative_path(layer, variable):
    """``variable.path`` without the leading ``<layer name>/``."""
    prefix = layer.name + "/"
    return variable.path[len(prefix) :] if variable.path.startswith(prefix) else variable.path


def mapped_variables(layer):
    """The layer's variables in the order `variable_mapping` lists their checkpoint names."""
    variables = list(layer.weights)
    by_path = {relative_path(layer, v): v for v in variables}
    declared = getattr(layer, "weight_order", None)
    if declared is not None:
        ordered = [by_path[path] for path in declared if path in by_path]
    else:

        def rank(path):
            if "/" in path:
                return 2  # a sub-layer's variable
            return _KIND_RANK.get(path, 2)

        ordered = sorted(
            (v for v in variables if rank(relative_path(layer, v)) < 2),
            key=lambda v: rank(relative_path(layer, v)),
        )
    chosen = {id(v) for v in ordered}
    return ordered + [v for v in variables if id(v) not in chosen]
