"""Layers (bert4keras's ``bert4keras.layers`` names)."""

from .activations import get_activation
from .attention import CACHE_LENGTH_AXIS, MultiHeadAttention, PositionalAttention
from .core import CONTEXT, Add, BiasAdd, Scale, TakeToken
from .crf import ConditionalRandomField, MaximumEntropyMarkovModel
from .embedding import Embedding, PositionEmbedding
from .feedforward import FeedForward
from .gau import GatedAttentionUnit
from .global_pointer import EfficientGlobalPointer, GlobalPointer
from .loss import Loss
from .masks import CausalBias, PaddingBias, SumBiases, UniLMBias
from .normalization import LayerNormalization
from .pooling import MaskedGlobalAveragePooling1D, MaskedGlobalMaxPooling1D
from .position_tables import (
    RelativePositionBiasT5,
    RelativePositionTable,
    RotaryPositionTable,
    relative_position_buckets,
)
from .positions import (
    BatchConcat,
    BatchSplit,
    Concatenate1D,
    Layer,
    ScaleOffset,
    SinusoidalPositionEmbedding,
    integerize_shape,
)
from .rotary import apply_rotary, sinusoidal_embeddings
from .sparse_attention import AtrousSelfAttention, LocalSelfAttention, SparseSelfAttention

# bert4keras's pooling layers already respected the padding mask under these names.
GlobalAveragePooling1D = MaskedGlobalAveragePooling1D
GlobalMaxPooling1D = MaskedGlobalMaxPooling1D
