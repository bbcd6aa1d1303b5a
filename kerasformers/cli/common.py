"""Helpers shared by the command-line modules."""

import typer


def fail(message):
    """Print ``error: message`` to stderr and exit with status 1 (no traceback for user errors)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)
