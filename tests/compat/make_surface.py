"""Write bert4keras 0.11.5's public surface to bert4keras_surface.json (run in the oracle venv).

    TF_KERAS=1 TF_USE_LEGACY_KERAS=1 /work/.venv-bert4keras/bin/python tests/compat/make_surface.py

Public = a name without a leading underscore that the module defines itself (its ``__module__``
is that module), plus the re-exports scripts import from it (``keras``, ``K``). Each entry records
its kind and, for callables, the parameter names with their kind and whether they have a default.
Class entries also list the public methods the class defines itself.
"""

import importlib
import inspect
import json
import os
import sys

MODULES = ["backend", "layers", "models", "optimizers", "snippets", "tokenizers"]
REEXPORTS = {"backend": ["keras", "K"], "snippets": ["open"]}
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bert4keras_surface.json")


def parameters(function):
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    return [
        {"name": p.name, "kind": p.kind.name, "has_default": p.default is not inspect.Parameter.empty}
        for p in signature.parameters.values()
    ]


def describe(value):
    if inspect.isclass(value):
        methods = {}
        for name, member in vars(value).items():
            if name.startswith("_") and name not in ("__init__", "__call__", "__iter__"):
                continue
            if inspect.isfunction(member):
                methods[name] = parameters(member)
        return {"kind": "class", "methods": methods}
    if inspect.isfunction(value):
        return {"kind": "function", "parameters": parameters(value)}
    if inspect.ismodule(value):
        return {"kind": "module"}
    return {"kind": "value", "type": type(value).__name__}


def main():
    surface = {}
    for short in MODULES:
        module = importlib.import_module(f"bert4keras.{short}")
        # snippets replaces itself in sys.modules by a wrapper that serves `uniout` lazily.
        namespace = vars(getattr(module, "module", module))
        entries = {"uniout": {"kind": "module"}} if short == "snippets" else {}
        for name, value in sorted(namespace.items()):
            if name.startswith("_"):
                continue
            defined_here = getattr(value, "__module__", None) == f"bert4keras.{short}"
            if defined_here or name in REEXPORTS.get(short, []):
                entries[name] = describe(value)
        surface[short] = entries
    with open(OUT + ".tmp", "w") as f:
        json.dump(
            {"bert4keras": "0.11.5", "python": sys.version.split()[0], "modules": surface},
            f,
            indent=1,
            sort_keys=True,
            ensure_ascii=False,
        )
    os.replace(OUT + ".tmp", OUT)
    print(OUT, {k: len(v) for k, v in surface.items()})


if __name__ == "__main__":
    main()
