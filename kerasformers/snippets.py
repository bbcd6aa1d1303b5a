"""bert4keras's ``snippets`` module: ``from kerasformers.snippets import DataGenerator, ...``.

Everything lives in ``kerasformers.data`` (and the decoder in
``kerasformers.generation``); this module only keeps the old import path.
"""

from .data import *  # noqa: F403 -- bert4keras.snippets re-exported every data helper
from .data import __all__ as _data_names
from .generation.autoregressive import AutoRegressiveDecoder
from .tokenizers.wordpiece import lowercase_and_normalize

# `from bert4keras.snippets import uniout` printed Chinese in Python 2 lists; Python 3 needs nothing.
uniout = None

__all__ = [*_data_names, "AutoRegressiveDecoder", "lowercase_and_normalize", "uniout"]  # noqa: PLE0604
