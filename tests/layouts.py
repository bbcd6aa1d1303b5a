"""Original TF1 checkpoint layouts (tests/fixtures/checkpoint-layouts): the facts name maps must match."""

import os

LAYOUT_DIR = os.path.join(os.path.dirname(__file__), "fixtures", "checkpoint-layouts")


def layout_shapes(key):
    """{TF1 variable name: shape} of the layout file ``key``.txt."""
    shapes = {}
    with open(os.path.join(LAYOUT_DIR, f"{key}.txt"), encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            name, shape = line.rstrip("\n").split("\t")
            shapes[name] = tuple(int(d) for d in shape.strip()[1:-1].split(",") if d.strip())
    return shapes


def original_layout(key):
    """The set of TF1 variable names of layout ``key``."""
    return set(layout_shapes(key))
