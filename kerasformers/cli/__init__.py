"""The ``kerasformers`` command line.

Each command group lives in its own module and is attached here:

    kerasformers words ...                       Chinese text mining (``words.py``)
    kerasformers train|evaluate|predict ...      task systems (``tasks.py``)
    kerasformers pretrain ...                    pretraining (``pretrain.py``)
    kerasformers convert|inspect|encode|generate|serve|export ...   models (``models.py``)
"""

import typer

from . import models as _models_cli
from . import pretrain as _pretrain_cli
from . import tasks as _tasks_cli
from .words import words_app

app = typer.Typer(help="kerasformers command line tools.", no_args_is_help=True)
app.add_typer(words_app, name="words")
_tasks_cli.register(app)  # train / evaluate / predict (tasks.py)
_pretrain_cli.register(app)  # pretrain bert (pretrain.py)
_models_cli.register(app)  # convert / inspect / encode / generate / serve / export (models.py)


def main():
    app()


if __name__ == "__main__":
    main()
