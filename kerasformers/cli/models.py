"""Model commands: convert, inspect, encode, generate, serve, export.

kerasformers convert hf_bert/ tf1_bert/ --to tf1
kerasformers inspect tf1_bert/bert_model.ckpt
kerasformers encode minilm/ --input sentences.txt --output vectors.npy
kerasformers generate gpt2_dir/ --prompt "今天天气" --max-new-tokens 32 --stream
kerasformers serve minilm/ --port 8000
kerasformers export minilm/ exported/ --format saved_model
"""

import json
import os
import sys
import tempfile
from pathlib import Path

import typer

from .common import fail

Model = typer.Argument(
    ..., help="A model folder (HuggingFace layout: config.json, weights, tokenizer files)."
)


def _load(kind, folder, **options):
    from ..serving.models import CompletionModel, EmbeddingModel, folder_family

    try:
        family = folder_family(os.fspath(folder))
        if kind == "embeddings":
            return EmbeddingModel(os.fspath(folder), family, **options)
        return CompletionModel(os.fspath(folder), family)
    except (ValueError, OSError) as error:
        fail(str(error))


def convert(
    source: Path = typer.Argument(..., help="Checkpoint: HF folder, TF1 folder/prefix, or .safetensors."),
    destination: Path = typer.Argument(..., help="Folder to create."),
    model: str | None = typer.Option(
        None, "--model", help="Family (bert, albert, gpt2, ...); guessed if omitted."
    ),
    to: str = typer.Option("hf", help="Layout to write: hf | tf1 | keras."),
    dtype: str = typer.Option(
        "float32", help="float32 | float16 | bfloat16 | int8 (int8: Keras quantisation, --to keras only)."
    ),
    verify: bool = typer.Option(
        True, "--verify/--no-verify", help="Rebuild from the output and compare outputs."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing destination."),
):
    """Convert a checkpoint between layouts, checking the round trip.

    Example: kerasformers convert chinese_L-12_H-768_A-12/ hf_bert/ --model bert --to hf
    int8 for CPU inference: kerasformers convert minilm/ minilm_int8/ --to keras --dtype int8
    """
    from ..conversion import ConversionError
    from ..conversion import convert as run

    try:
        report = run(
            os.fspath(source),
            os.fspath(destination),
            family=model,
            to=to,
            dtype=dtype,
            verify=verify,
            force=force,
            log=lambda message: typer.echo(message, err=True),
        )
    except (ConversionError, ValueError, OSError) as error:
        fail(str(error))
    difference = report["max_difference"]
    checked = "not verified" if difference is None else f"round trip max relative difference {difference:.2e}"
    typer.echo(
        f"wrote {report['destination']} ({report['to']}, {report['dtype']}, {report['family']}); {checked}"
    )


def inspect(
    checkpoint: Path = typer.Argument(..., help="Checkpoint file, prefix or folder."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
    limit: int = typer.Option(0, help="Print only the first N variables (0 = all)."),
):
    """Family guess, variable names/shapes/dtypes, parameter count and config of a checkpoint.

    Example: kerasformers inspect chinese_L-12_H-768_A-12/bert_model.ckpt --limit 20
    """
    from ..conversion import describe

    try:
        info = describe(os.fspath(checkpoint))
    except (ValueError, OSError) as error:
        fail(str(error))
    if as_json:
        typer.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    typer.echo(f"path: {info['path']}\nformat: {info['format']}\nfamily: {info['family'] or 'unknown'}")
    typer.echo(f"parameters: {info['parameters']:,}\nvariables: {len(info['variables'])}")
    shown = info["variables"][:limit] if limit else info["variables"]
    width = max((len(name) for name, _, _ in shown), default=0)
    for name, shape, dtype in shown:
        typer.echo(f"  {name:<{width}}  {list(shape)!s:<16} {dtype}")
    if limit and len(info["variables"]) > limit:
        typer.echo(f"  ... {len(info['variables']) - limit} more")
    if info["config"] is not None:
        typer.echo(
            f"config ({info['config_path']}):\n{json.dumps(info['config'], ensure_ascii=False, indent=2)}"
        )


def encode(
    model: Path = Model,
    input: Path | None = typer.Option(None, "--input", help="Text file, one text per line (default stdin)."),
    output: Path | None = typer.Option(
        None, help="Write .npy (float32) or .jsonl; default JSON lines on stdout."
    ),
    pool: str = typer.Option("mean", help="cls | mean (mean over real tokens)."),
    normalize: bool = typer.Option(True, "--normalize/--no-normalize", help="Scale vectors to unit length."),
    batch_size: int = typer.Option(32, min=1),
):
    """Sentence embeddings of an encoder folder.

    Example: kerasformers encode minilm/ --input sentences.txt --output vectors.npy --pool mean
    """
    import numpy as np
    from tqdm import tqdm

    if pool not in ("cls", "mean"):
        fail(f"--pool must be cls or mean, got {pool!r}")
    if output is not None and output.suffix not in (".npy", ".jsonl"):
        fail(f"--output must end in .npy or .jsonl, got {output}")
    try:
        if input is None:
            texts = [line.rstrip("\n") for line in sys.stdin]
        else:
            with open(input, encoding="utf-8") as handle:
                texts = [line.rstrip("\n") for line in handle]
    except (OSError, UnicodeDecodeError) as error:
        fail(f"cannot read {input or 'stdin'}: {error}")
    empty = [i + 1 for i, text in enumerate(texts) if not text.strip()]
    if empty:
        fail(f"{input or 'stdin'} line {empty[0]} is empty ({len(empty)} empty lines); remove them")
    if not texts:
        fail(f"{input or 'stdin'} has no texts")
    encoder = _load("embeddings", model, pool=pool, normalize=normalize)
    batches = range(0, len(texts), batch_size)
    vectors = np.concatenate(
        [
            encoder.embed(texts[i : i + batch_size])
            for i in tqdm(batches, desc="encoding", unit="batch", disable=len(batches) < 2)
        ]
    )
    if output is not None and output.suffix == ".npy":
        _atomic(output, lambda path: np.save(path, vectors), suffix=".npy")
        typer.echo(f"wrote {output} {vectors.shape}", err=True)
        return
    lines = "".join(
        json.dumps({"text": t, "embedding": v.tolist()}, ensure_ascii=False) + "\n"
        for t, v in zip(texts, vectors)
    )
    if output is None:
        typer.echo(lines, nl=False)
    else:
        _atomic(output, lambda path: Path(path).write_text(lines, encoding="utf-8"), suffix=".jsonl")


def _atomic(path, write, suffix):
    handle, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=suffix)
    os.close(handle)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def generate(
    model: Path = Model,
    prompt: str = typer.Option(..., help="Text to continue."),
    max_new_tokens: int = typer.Option(32, min=1),
    temperature: float = typer.Option(0.0, min=0.0, help="0 = greedy."),
    top_p: float = typer.Option(1.0, min=0.0, max=1.0),
    num_beams: int = typer.Option(1, min=1, help="Beam search with K beams (greedy scoring)."),
    seed: int | None = typer.Option(None),
    stream: bool = typer.Option(False, "--stream", help="Print the text as it is generated."),
):
    """Continue a prompt with a decoder folder (GPT-2 family).

    Example: kerasformers generate gpt2_dir/ --prompt "今天天气" --max-new-tokens 32 --temperature 0.8
    """
    from ..generation import generate as run
    from ..serving.batching import _RowText

    decoder = _load("completions", model)
    ids = decoder.encode(prompt)
    if not ids:
        fail("--prompt has no tokens")
    if len(ids) + max_new_tokens > decoder.max_tokens:
        fail(
            f"--prompt ({len(ids)} tokens) + --max-new-tokens ({max_new_tokens}) exceeds the model's "
            f"{decoder.max_tokens} positions"
        )
    if num_beams > 1:
        if temperature > 0 or stream:
            fail("--num-beams > 1 is deterministic: use it without --temperature and --stream")
        eos = [] if decoder.eos_id is None else [decoder.eos_id]
        out = run(
            decoder.transformer,
            [ids],
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            stop_ids=eos,
            pad_id=decoder.eos_id or 0,
        )[0].tolist()
        typer.echo(decoder.decode(out[: out.index(decoder.eos_id)] if decoder.eos_id in out else out))
        return
    text = _RowText(decoder, max_new_tokens, [])
    try:
        steps = decoder.stream([ids], max_new_tokens, temperature, top_p, seed)
    except ValueError as error:
        fail(str(error))
    pieces = []
    for tokens in steps:
        delta, finish = text.push(int(tokens[0]))
        pieces.append(delta)
        if stream:
            typer.echo(delta, nl=False)
            sys.stdout.flush()
        if finish:
            break
    typer.echo("" if stream else "".join(pieces))


def serve(
    model: Path = typer.Argument(..., help="A model folder or a task folder (task.json)."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind (keep 127.0.0.1 unless behind a proxy)."),
    port: int = typer.Option(8000, min=1, max=65535),
    name: str | None = typer.Option(None, help="Model id clients send (default: the folder name)."),
    max_batch_size: int = typer.Option(32, min=1),
    max_wait_ms: float = typer.Option(5.0, min=0.0),
    max_concurrent: int = typer.Option(64, min=1),
    max_body_bytes: int = typer.Option(1_000_000, min=1024),
    max_tokens: int = typer.Option(4096, min=1, help="Tokens per request (also capped by the model)."),
    timeout: float = typer.Option(60.0, min=0.1, help="Seconds per request."),
    pool: str = typer.Option("mean", help="Embedding pooling: cls | mean."),
):
    """Serve a folder over HTTP: OpenAI-compatible embeddings/completions or task endpoints.

    Example: kerasformers serve minilm/ --port 8000 --max-batch-size 32 --max-wait-ms 5
    """
    from ..serving import Limits, create_app, load_model, run_server

    try:
        loaded = load_model(os.fspath(model), pool=pool)
    except (ValueError, OSError) as error:
        fail(str(error))
    limits = Limits(
        max_body_bytes=max_body_bytes,
        max_tokens_per_request=max_tokens,
        max_concurrent=max_concurrent,
        timeout_s=timeout,
        max_batch_size=max_batch_size,
        max_wait_ms=max_wait_ms,
    )
    app = create_app(loaded, name or Path(model).resolve().name, limits)
    typer.echo(f"serving {model} ({loaded.kind}) on http://{host}:{port}  (playground at /)", err=True)
    run_server(app, host=host, port=port)


def export(
    model: Path = Model,
    destination: Path = typer.Argument(..., help="Folder to create."),
    format: str = typer.Option("saved_model", "--format", help="saved_model | onnx."),
    force: bool = typer.Option(False, "--force", help="Replace an existing destination."),
):
    """Export for serving elsewhere (TF Serving, ONNX Runtime), checked against the Keras outputs.

    Example: KERAS_BACKEND=tensorflow kerasformers export minilm/ minilm_savedmodel/ --format saved_model
    """
    from ..conversion import ConversionError
    from ..conversion import export as run

    try:
        report = run(
            os.fspath(model),
            os.fspath(destination),
            form=format,
            force=force,
            log=lambda message: typer.echo(message, err=True),
        )
    except (ConversionError, ValueError, OSError) as error:
        fail(str(error))
    typer.echo(
        f"wrote {report['destination']} ({report['format']}); max relative difference "
        f"{report['max_difference']:.2e}"
    )


COMMANDS: list = [convert, inspect, encode, generate, serve, export]


def register(app):
    """Attach the model commands to the root ``kerasformers`` app."""
    for command in COMMANDS:
        app.command(command.__name__)(command)
