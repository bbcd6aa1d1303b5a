"""Unsupervised Chinese text mining: counting, new-word discovery, segmentation.

See docs/text-mining.md. Command line: ``kerasformers words count|discover|pmi|segment|templates``.
"""

from kerasformers.text.corpus import (
    CorpusError,
    ReadStats,
    batch_lines,
    content_pieces,
    iter_lines,
    line_source,
    write_lines_atomic,
)
from kerasformers.text.counting import (
    CharTokenizer,
    CountTable,
    JiebaTokenizer,
    NgramTokenizer,
    count_batch,
    count_batches,
    count_frequent_tokens,
    count_tokens,
    get_tokenizer,
)
from kerasformers.text.discovery import (
    DiscoveryConfig,
    auto_min_count,
    cohesion,
    discover_words,
    presegment,
    select_ngrams,
)
from kerasformers.text.evaluation import SegmentationScores, read_peoples_daily, score_segmentation
from kerasformers.text.lexicon import Lexicon, LexiconEntry
from kerasformers.text.min_entropy import build_lexicon_by_pmi, merge_by_pmi, pmi
from kerasformers.text.segmenter import Segmenter
from kerasformers.text.templates import Template, find_templates

__all__ = [
    "CharTokenizer",
    "CorpusError",
    "CountTable",
    "DiscoveryConfig",
    "JiebaTokenizer",
    "Lexicon",
    "LexiconEntry",
    "NgramTokenizer",
    "ReadStats",
    "SegmentationScores",
    "Segmenter",
    "Template",
    "auto_min_count",
    "batch_lines",
    "build_lexicon_by_pmi",
    "cohesion",
    "content_pieces",
    "count_batch",
    "count_batches",
    "count_frequent_tokens",
    "count_tokens",
    "discover_words",
    "find_templates",
    "get_tokenizer",
    "iter_lines",
    "line_source",
    "merge_by_pmi",
    "pmi",
    "presegment",
    "read_peoples_daily",
    "score_segmentation",
    "select_ngrams",
    "write_lines_atomic",
]
