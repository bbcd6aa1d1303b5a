"""Model keys accepted by `build_transformer_model(model=...)` (bert4keras's names)."""

MODELS = {}


def register_model(*keys):
    """Class decorator: make the family reachable under each key (case-insensitive)."""

    def decorator(cls):
        for key in keys:
            MODELS[key.lower()] = cls
        return cls

    return decorator


def get_model_class(key):
    if not isinstance(key, str):
        return key  # a Transformer subclass passed directly, as bert4keras allows
    try:
        return MODELS[key.lower()]
    except KeyError:
        raise ValueError(f"unknown model {key!r}; known models: {', '.join(sorted(MODELS))}") from None
