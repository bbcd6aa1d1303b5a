"""Serving models over HTTP: OpenAI-compatible embeddings and completions, task endpoints,
dynamic batching, limits, Prometheus metrics and a playground page.

    from kerasformers.serving import load_model, create_app, run_server
    run_server(create_app(load_model("model_dir"), name="model_dir"), port=8000)
"""

from .app import Limits, create_app
from .models import CompletionModel, EmbeddingModel, TaskModel, load_model
from .server import BackgroundServer, run_server

__all__ = [
    "BackgroundServer",
    "CompletionModel",
    "EmbeddingModel",
    "Limits",
    "TaskModel",
    "create_app",
    "load_model",
    "run_server",
]
