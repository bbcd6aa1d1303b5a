"""``kerasformers words``: Chinese text mining from the command line.

    kerasformers words count corpus/*.txt --tokenizer ngram -n 2 --output counts.tsv
    kerasformers words discover corpus/*.txt --output lexicon.tsv
    kerasformers words pmi corpus/*.txt --min-count 16 --output lexicon.tsv
    kerasformers words segment corpus/*.txt --lexicon lexicon.tsv --output cut.txt
    kerasformers words templates corpus/*.txt --lexicon lexicon.tsv --output templates.tsv

count and discover also run on a Dask cluster: --engine dask [--scheduler tcp://host:8786].
"""

import sys
from pathlib import Path
from typing import Annotated

import typer

from .common import fail as _fail

words_app = typer.Typer(
    help="Chinese text mining: counting, new-word discovery, segmentation.", no_args_is_help=True
)

Files = Annotated[list[Path], typer.Argument(help="Text files, one sentence or paragraph per line.")]
Encoding = Annotated[str, typer.Option(help="Encoding of the input files.")]
SkipBad = Annotated[
    bool, typer.Option("--skip-bad", help="Skip undecodable lines and binary files instead of failing.")
]
Workers = Annotated[
    int, typer.Option(help="Worker processes (parallel_apply, or the Dask workers of a local cluster).")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
Engine = Annotated[
    str, typer.Option(help="local (this machine, --workers processes) | dask (a Dask cluster).")
]
Scheduler = Annotated[
    str | None,
    typer.Option(
        help="Dask scheduler address (tcp://host:8786); default: a "
        "local cluster of --workers processes on 127.0.0.1."
    ),
]


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
    files: Files,
    output: Annotated[Path | None, typer.Option(help="TSV output (token, count); default stdout.")] = None,
    tokenizer: Annotated[str, typer.Option(help="char | ngram | jieba")] = "char",
    n: Annotated[int, typer.Option("-n", help="Longest n-gram for --tokenizer ngram.")] = 4,
    min_count: Annotated[int, typer.Option(help="Only output tokens seen this often.")] = 1,
    max_entries: Annotated[int | None, typer.Option(help="Memory budget: entries kept in RAM.")] = None,
    overflow: Annotated[
        str, typer.Option(help="Over budget: spill (exact, to disk) | prune (approximate).")
    ] = "spill",
    workers: Workers = 1,
    engine: Engine = "local",
    scheduler: Scheduler = None,
    encoding: Encoding = "utf-8",
    skip_bad: SkipBad = False,
    quiet: Quiet = False,
):
    """Count characters, n-grams or jieba words over many files."""
    from kerasformers.text import CorpusError, ReadStats, count_tokens, iter_lines
    from kerasformers.text.corpus import write_lines_atomic

    stats = ReadStats()
    lines = iter_lines(files, encoding, "skip" if skip_bad else "strict", stats, progress=not quiet)
    try:
        with count_tokens(
            lines,
            tokenizer,
            n,
            workers=workers,
            max_entries=max_entries,
            overflow=overflow,
            engine=engine,
            scheduler=scheduler,
        ) as table:
            ordered = sorted(table.items(min_count), key=lambda kv: (-kv[1], kv[0]))
    except (CorpusError, ValueError, ImportError, ConnectionError) as exc:
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
    files: Files,
    output: Annotated[Path, typer.Option(help="Lexicon TSV (word, count, cohesion).")],
    min_count: Annotated[
        int | None, typer.Option(help="Minimum n-gram and word count; default: derived from the corpus size.")
    ] = None,
    max_n: Annotated[int, typer.Option(help="Longest n-gram counted.")] = 4,
    min_proba: Annotated[
        str | None,
        typer.Option(
            help="Cohesion thresholds for n-gram lengths 2..max-n, e.g. 6,36,216 "
            "(default: base ** (n - 1) with --cohesion-base)."
        ),
    ] = None,
    cohesion_base: Annotated[float | None, typer.Option(help="Threshold base (default 6; see docs).")] = None,
    discount: Annotated[
        bool, typer.Option(help="Discount rare n-gram counts by n1 / (n1 + 2 n2) before the cohesion test.")
    ] = True,
    max_entries: Annotated[int | None, typer.Option(help="Memory budget for n-gram counting.")] = None,
    workers: Workers = 1,
    engine: Engine = "local",
    scheduler: Scheduler = None,
    encoding: Encoding = "utf-8",
    skip_bad: SkipBad = False,
    quiet: Quiet = False,
):
    """New-word discovery by n-gram cohesion."""
    from kerasformers.text import CorpusError, DiscoveryConfig, discover_words

    settings = {"max_n": max_n, "discount": discount}
    if min_count is not None:
        settings["min_count"] = min_count
    if cohesion_base is not None:
        settings["cohesion_base"] = cohesion_base
    if min_proba is not None:
        settings["min_proba"] = _parse_min_proba(min_proba, max_n)
    try:
        config = DiscoveryConfig(**settings)
        lexicon = discover_words(
            files,
            config,
            workers=workers,
            encoding=encoding,
            errors="skip" if skip_bad else "strict",
            max_entries=max_entries,
            progress=not quiet,
            engine=engine,
            scheduler=scheduler,
        )
    except (CorpusError, ValueError, ImportError, ConnectionError) as exc:
        _fail(exc)
    lexicon.save(output)
    if not quiet:
        typer.echo(f"{len(lexicon)} words -> {output}", err=True)


@words_app.command("pmi")
def pmi_lexicon(
    files: Files,
    output: Annotated[Path, typer.Option(help="Lexicon TSV (word, count, PMI).")],
    min_count: Annotated[int, typer.Option(help="Minimum pair count for a merge.")] = 16,
    min_pmi: Annotated[float, typer.Option(help="Minimum PMI (natural log) for a merge.")] = 1.0,
    iterations: Annotated[int, typer.Option(help="Merge rounds.")] = 3,
    workers: Workers = 1,
    encoding: Encoding = "utf-8",
    skip_bad: SkipBad = False,
    quiet: Quiet = False,
):
    """Minimum-entropy lexicon: merge adjacent units by PMI, iterate."""
    from kerasformers.text import CorpusError
    from kerasformers.text.min_entropy import build_lexicon_by_pmi

    try:
        lexicon = build_lexicon_by_pmi(
            files,
            min_count=min_count,
            min_pmi=min_pmi,
            iterations=iterations,
            workers=workers,
            encoding=encoding,
            errors="skip" if skip_bad else "strict",
            progress=not quiet,
        )
    except (CorpusError, ValueError) as exc:
        _fail(exc)
    lexicon.save(output)
    if not quiet:
        typer.echo(f"{len(lexicon)} words -> {output}", err=True)


@words_app.command("segment")
def segment(
    files: Files,
    lexicon: Annotated[Path, typer.Option(help="Lexicon TSV (word, count[, score]).")],
    output: Annotated[Path | None, typer.Option(help="Output file (default stdout).")] = None,
    separator: Annotated[str, typer.Option(help="Written between words.")] = " ",
    encoding: Encoding = "utf-8",
    skip_bad: SkipBad = False,
    quiet: Quiet = False,
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


@words_app.command("templates")
def templates(
    files: Files,
    lexicon: Annotated[
        Path, typer.Option(help="Lexicon TSV used to segment the text (e.g. from `discover`).")
    ],
    output: Annotated[
        Path | None, typer.Option(help="TSV (template, count, PMI, fillers, examples); default stdout.")
    ] = None,
    min_count: Annotated[int, typer.Option(help="Minimum template count.")] = 20,
    min_fillers: Annotated[int, typer.Option(help="Minimum number of different slot fillings.")] = 5,
    min_pmi: Annotated[float, typer.Option(help="Minimum PMI of the anchors (natural log).")] = 1.0,
    max_length: Annotated[int, typer.Option(help="Longest template, in words (slots included).")] = 4,
    words_only: Annotated[
        bool, typer.Option("--words-only", help="Templates never contain punctuation.")
    ] = False,
    top: Annotated[int | None, typer.Option(help="Keep only the best TOP templates.")] = None,
    encoding: Encoding = "utf-8",
    skip_bad: SkipBad = False,
    quiet: Quiet = False,
):
    """Minimum-entropy sentence templates: word sequences with slots (e.g. 在 _ 上)."""
    from kerasformers.text import CorpusError, Lexicon
    from kerasformers.text.templates import find_templates, save_templates, template_rows

    try:
        found = find_templates(
            files,
            Lexicon.load(lexicon),
            min_count=min_count,
            min_fillers=min_fillers,
            min_pmi=min_pmi,
            max_length=max_length,
            words_only=words_only,
            encoding=encoding,
            errors="skip" if skip_bad else "strict",
        )[:top]
    except (OSError, CorpusError, ValueError) as exc:
        _fail(exc)
    if output is None:
        for row in template_rows(found):
            sys.stdout.write(row + "\n")
    else:
        save_templates(output, found)
    if not quiet:
        typer.echo(f"{len(found)} templates", err=True)
