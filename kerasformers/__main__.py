"""``python -m kerasformers`` runs the command line."""
from .cli import main

main()
