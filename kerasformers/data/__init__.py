"""Data utilities: padding, truncation, segmentation, batching, parallel maps, big files.

`DataGenerator` is imported on first use: it needs keras (and so a backend), which the
text-mining tools and the CLI, built on the rest of this package, do not.
"""

from .files import open
from .helpers import delete_arguments, insert_arguments, is_one_of, orthogonally_resize
from .padding import sequence_padding, softmax, to_array, truncate_sequences
from .parallel import parallel_apply, parallel_apply_generator
from .text import (
    convert_to_str,
    convert_to_unicode,
    is_string,
    longest_common_subsequence,
    longest_common_substring,
    string_matching,
    strQ2B,
    text_segmentate,
)
from .viterbi import ViterbiDecoder

__all__ = [
    "DataGenerator",
    "ViterbiDecoder",
    "WebServing",
    "convert_to_str",
    "convert_to_unicode",
    "delete_arguments",
    "insert_arguments",
    "is_one_of",
    "is_string",
    "longest_common_subsequence",
    "longest_common_substring",
    "open",
    "orthogonally_resize",
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
    if name == "WebServing":
        from .web import WebServing

        return WebServing
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
