"""kerasformers: bert4keras's way of working, on Keras 3.

JAX is the default backend; an explicit ``KERAS_BACKEND`` always wins. The default
only takes effect when kerasformers is imported before keras.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

__version__ = "0.1.0"
