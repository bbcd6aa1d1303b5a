"""Layers (bert4keras names). Model families and task heads append their exports below."""
from .activations import get_activation
from .attention import MultiHeadAttention
from .core import Add, BiasAdd, Scale, TakeToken
from .embedding import Embedding, PositionEmbedding
from .feedforward import FeedForward
from .masks import CausalBias, PaddingBias, SumBiases, UniLMBias
from .normalization import LayerNormalization
from .pooling import MaskedGlobalAveragePooling1D, MaskedGlobalMaxPooling1D
from .rotary import apply_rotary, sinusoidal_embeddings

GlobalAveragePooling1D = MaskedGlobalAveragePooling1D
GlobalMaxPooling1D = MaskedGlobalMaxPooling1D
from .crf import ConditionalRandomField, MaximumEntropyMarkovModel
from .global_pointer import EfficientGlobalPointer, GlobalPointer
from .loss import Loss
from .gau import GatedAttentionUnit
from .sparse_attention import AtrousSelfAttention, LocalSelfAttention, SparseSelfAttention
