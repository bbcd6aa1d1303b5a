"""Model families and `build_transformer_model` (bert4keras's ``bert4keras.models``).

Importing a family module registers its model keys; a new family adds one import here.
"""

from .albert import ALBERT, ALBERT_Unshared
from .bert import BERT
from .builder import build_transformer_model, folder_family, read_config
from .electra import ELECTRA
from .ernie import ERNIE
from .gau_alpha import GAU_alpha
from .gpt import GPT
from .gpt2 import GPT2
from .gpt2_ml import GPT2_ML
from .nezha import NEZHA
from .registry import MODELS, get_model_class, register_model
from .roformer import RoFormer, RoFormerV2
from .t5 import T5, T5_Decoder, T5_Encoder
from .transformer import LM_Mask, Transformer, UniLM_Mask, with_application


def extend_with_language_model(model_class):
    """bert4keras name: the family with a causal (LM) attention mask."""
    return with_application(model_class, "lm")


def extend_with_unified_language_model(model_class):
    """bert4keras name: the family with the UniLM seq2seq attention mask."""
    return with_application(model_class, "unilm")
