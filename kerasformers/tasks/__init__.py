"""Task systems: from raw text to structured answers, one small uniform API per task.

task = TASKS["ner"](checkpoint=None)          # or NERTask(...); None = pretrained small model or scratch
task.fit("train.txt", "dev.txt", epochs=3)    # original data files or Python records
task.predict(["王小明在北京工作"])             # → [{"entities": [{"type", "start", "end", "text"}]}]
task.evaluate("test.txt")                     # → {"f1": ..., "precision": ..., "recall": ...}
task.save("ner_model/"); load("ner_model/")   # self-contained folder
"""

import json
import os
import pathlib

from .base import Task
from .classification import ClassificationTask, SentencePairTask
from .couplet import CoupletTask
from .event import EventExtractionTask
from .labeling import CWSTask, NERTask
from .language_model import LanguageModelTask
from .linking import EntityLinkingTask
from .mrc import MLMReadingTask, Seq2SeqReadingTask
from .nl2sql import NL2SQLTask
from .readers import DataFormatError
from .relation import RelationExtractionTask
from .title import TitleGenerationTask

TASKS = {
    task.name: task
    for task in (
        ClassificationTask,
        SentencePairTask,
        NERTask,
        CWSTask,
        RelationExtractionTask,
        EventExtractionTask,
        EntityLinkingTask,
        TitleGenerationTask,
        CoupletTask,
        MLMReadingTask,
        Seq2SeqReadingTask,
        NL2SQLTask,
        LanguageModelTask,
    )
}


def register_task(task_class):
    """Add a Task subclass to ``TASKS`` under its ``name`` (for tasks defined elsewhere)."""
    if not (isinstance(task_class, type) and issubclass(task_class, Task) and task_class.name):
        raise ValueError(f"register_task: {task_class!r} is not a named Task subclass")
    TASKS[task_class.name] = task_class
    return task_class


def get_task(name: str) -> type[Task]:
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}") from None


def load(directory: str | os.PathLike) -> Task:
    """A saved task folder → the task object (``.name``, ``.predict(inputs)``)."""
    manifest = pathlib.Path(directory) / "task.json"
    if not manifest.is_file():
        raise FileNotFoundError(f"{directory}: no task.json (not a saved task folder)")
    with open(manifest, encoding="utf-8") as handle:
        name = json.load(handle).get("task")
    return get_task(name).load(directory)


__all__ = [
    "TASKS",
    "CWSTask",
    "ClassificationTask",
    "DataFormatError",
    "EntityLinkingTask",
    "EventExtractionTask",
    "NERTask",
    "RelationExtractionTask",
    "SentencePairTask",
    "Task",
    "get_task",
    "load",
    "register_task",
]
__all__ += ["CoupletTask", "TitleGenerationTask"]
__all__ += ["MLMReadingTask", "Seq2SeqReadingTask"]
__all__ += ["NL2SQLTask"]
__all__ += ["LanguageModelTask"]
