"""``python -m kerasformers`` runs the command line."""

from .cli import main

if __name__ == "__main__":  # Dask's spawned worker processes re-import this module
    main()
