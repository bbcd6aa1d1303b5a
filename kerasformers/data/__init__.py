"""Data utilities: padding, truncation, segmentation, batching, parallel maps, big files.

`DataGenerator` is imported on first use: it needs keras (and so a backend), which the
text-mining tools and the CLI, built on the rest of this package, do not.
"""
from .files import open
from .padding import sequence_padding, softmax, to_array, truncate_sequences
from .parallel import parallel_apply, parallel_apply_generator
from .text import (
    convert_to_str,
    convert_to_unicode,
    is_string,
    longest_common_subsequence,
    longest_common_substring,
    strQ2B,
    string_matching,
    text_segmentate,
)
from .viterbi import ViterbiDecoder

__all__ = [
    "DataGenerator",
    "ViterbiDecoder",
    "convert_to_str",
    "convert_to_unicode",
    "is_string",
    "longest_common_subsequence",
    "longest_common_substring",
    "open",
    "parallel_apply",
    "parallel_apply_generator",
    "sequence_padding",
    "softmax",
    "strQ2B",
    "string_matching",
    "text_segmentate",
    "to_array",
    "truncate_sequences",
]


def __getattr__(name):
    if name == "DataGenerator":
        from .generator import DataGenerator
        return DataGenerator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
