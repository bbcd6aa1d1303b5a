"""The ``kerasformers`` command line.

Each command group lives in its own module and is attached here:

    kerasformers words ...      Chinese text mining (``words.py``)
"""
import typer

from .words import words_app

app = typer.Typer(help="kerasformers command line tools.", no_args_is_help=True)
app.add_typer(words_app, name="words")


def main():
    app()


if __name__ == "__main__":
    main()
