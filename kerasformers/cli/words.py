"""``kerasformers words``: Chinese text mining from the command line.

    kerasformers words count corpus/*.txt --tokenizer ngram -n 2 --output counts.tsv
    kerasformers words discover corpus/*.txt --min-count 32 --output lexicon.tsv
    kerasformers words pmi corpus/*.txt --min-count 16 --output lexicon.tsv
    kerasformers words segment corpus/*.txt --lexicon lexicon.tsv --output cut.txt
"""
import sys
from pathlib import Path
from typing import List, Optional

import typer

from .common import fail as _fail

words_app = typer.Typer(help="Chinese text mining: counting, new-word discovery, segmentation.",
                        no_args_is_help=True)

Files = typer.Argument(..., help="Text files, one sentence or paragraph per line.")
Encoding = typer.Option("utf-8", help="Encoding of the input files.")
SkipBad = typer.Option(False, "--skip-bad", help="Skip undecodable lines and binary files instead of failing.")
Workers = typer.Option(1, help="Worker processes (parallel_apply).")
Quiet = typer.Option(False, "--quiet", "-q", help="No progress bars.")




def _parse_min_proba(text, max_n):
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        _fail(f"--min-proba must be comma-separated numbers, got {text!r}")
    if len(values) != max_n - 1:
        _fail(f"--min-proba needs {max_n - 1} values (n-gram lengths 2..{max_n}), got {len(values)}")
    return dict(zip(range(2, max_n + 1), values))


def _report_stats(stats, quiet):
    if not quiet and (stats.bad_lines or stats.binary_files or stats.empty_files):
        typer.echo(
            f"skipped: {stats.bad_lines} undecodable lines, {stats.binary_files} binary files, "
            f"{stats.empty_files} empty files",
            err=True,
        )


@words_app.command("count")
def count(
    files: List[Path] = Files,
    output: Optional[Path] = typer.Option(None, help="TSV output (token, count); default stdout."),
    tokenizer: str = typer.Option("char", help="char | ngram | jieba"),
    n: int = typer.Option(4, "-n", help="Longest n-gram for --tokenizer ngram."),
    min_count: int = typer.Option(1, help="Only output tokens seen this often."),
    max_entries: Optional[int] = typer.Option(None, help="Memory budget: entries kept in RAM."),
    overflow: str = typer.Option("spill", help="Over budget: spill (exact, to disk) | prune (approximate)."),
    workers: int = Workers,
    encoding: str = Encoding,
    skip_bad: bool = SkipBad,
    quiet: bool = Quiet,
):
    """Count characters, n-grams or jieba words over many files."""
    from kerasformers.text import CorpusError, ReadStats, count_tokens, iter_lines
    from kerasformers.text.corpus import write_lines_atomic

    stats = ReadStats()
    lines = iter_lines(files, encoding, "skip" if skip_bad else "strict", stats, progress=not quiet)
    try:
        with count_tokens(lines, tokenizer, n, workers=workers, max_entries=max_entries,
                          overflow=overflow) as table:
            ordered = sorted(table.items(min_count), key=lambda kv: (-kv[1], kv[0]))
    except (CorpusError, ValueError, ImportError) as exc:
        _fail(exc)
    rows = (f"{token}\t{c}" for token, c in ordered)
    if output is None:
        for row in rows:
            sys.stdout.write(row + "\n")
    else:
        write_lines_atomic(output, rows)
    _report_stats(stats, quiet)


@words_app.command("discover")
def discover(
    files: List[Path] = Files,
    output: Path = typer.Option(..., help="Lexicon TSV (word, count, cohesion)."),
    min_count: int = typer.Option(32, help="Minimum n-gram and word count (scale with corpus size)."),
    max_n: int = typer.Option(4, help="Longest n-gram counted."),
    min_proba: str = typer.Option("5,25,125", help="Cohesion thresholds for n-gram lengths 2..max-n."),
    max_entries: Optional[int] = typer.Option(None, help="Memory budget for n-gram counting."),
    workers: int = Workers,
    encoding: str = Encoding,
    skip_bad: bool = SkipBad,
    quiet: bool = Quiet,
):
    """New-word discovery by n-gram cohesion."""
    from kerasformers.text import CorpusError, discover_words

    thresholds = _parse_min_proba(min_proba, max_n)
    try:
        lexicon = discover_words(
            files, workers=workers, encoding=encoding, errors="skip" if skip_bad else "strict",
            max_entries=max_entries, progress=not quiet,
            max_n=max_n, min_count=min_count, min_proba=thresholds,
        )
    except (CorpusError, ValueError) as exc:
        _fail(exc)
    lexicon.save(output)
    if not quiet:
        typer.echo(f"{len(lexicon)} words -> {output}", err=True)


@words_app.command("pmi")
def pmi_lexicon(
    files: List[Path] = Files,
    output: Path = typer.Option(..., help="Lexicon TSV (word, count, PMI)."),
    min_count: int = typer.Option(16, help="Minimum pair count for a merge."),
    min_pmi: float = typer.Option(1.0, help="Minimum PMI (natural log) for a merge."),
    iterations: int = typer.Option(3, help="Merge rounds."),
    workers: int = Workers,
    encoding: str = Encoding,
    skip_bad: bool = SkipBad,
    quiet: bool = Quiet,
):
    """Minimum-entropy lexicon: merge adjacent units by PMI, iterate."""
    from kerasformers.text import CorpusError
    from kerasformers.text.min_entropy import build_lexicon_by_pmi

    try:
        lexicon = build_lexicon_by_pmi(
            files, min_count=min_count, min_pmi=min_pmi, iterations=iterations, workers=workers,
            encoding=encoding, errors="skip" if skip_bad else "strict", progress=not quiet,
        )
    except (CorpusError, ValueError) as exc:
        _fail(exc)
    lexicon.save(output)
    if not quiet:
        typer.echo(f"{len(lexicon)} words -> {output}", err=True)


@words_app.command("segment")
def segment(
    files: List[Path] = Files,
    lexicon: Path = typer.Option(..., help="Lexicon TSV (word, count[, score])."),
    output: Optional[Path] = typer.Option(None, help="Output file (default stdout)."),
    separator: str = typer.Option(" ", help="Written between words."),
    encoding: str = Encoding,
    skip_bad: bool = SkipBad,
    quiet: bool = Quiet,
):
    """Segment text with a unigram LM over a lexicon (one output line per input line)."""
    from kerasformers.text import CorpusError, ReadStats, Segmenter, iter_lines
    from kerasformers.text.corpus import write_lines_atomic

    try:
        segmenter = Segmenter.from_tsv(lexicon)
    except (OSError, ValueError) as exc:
        _fail(exc)
    stats = ReadStats()
    lines = iter_lines(files, encoding, "skip" if skip_bad else "strict", stats, progress=not quiet)
    rows = (separator.join(segmenter.cut(line)) for line in lines)
    try:
        if output is None:
            for row in rows:
                sys.stdout.write(row + "\n")
        else:
            write_lines_atomic(output, rows)
    except CorpusError as exc:
        _fail(exc)
    _report_stats(stats, quiet)
