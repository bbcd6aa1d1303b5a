"""Every public name of bert4keras 0.11.5 exists in kerasformers with a compatible signature, or is
listed in docs/migration.md (as `bert4keras.module.name`) with the reason it differs.

The inventory bert4keras_surface.json was generated from bert4keras itself by make_surface.py.
"""

import importlib
import inspect
import json
import os
import re

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "bert4keras_surface.json"), encoding="utf-8") as f:
    SURFACE = json.load(f)["modules"]
with open(os.path.join(HERE, "..", "..", "docs", "migration.md"), encoding="utf-8") as f:
    MIGRATION = f.read()
DOCUMENTED = set(re.findall(r"`bert4keras\.(\w+\.[\w.]+)`", MIGRATION))
ENTRIES = [(module, name) for module, names in sorted(SURFACE.items()) for name in sorted(names)]


def signature_problems(theirs, ours):
    """Parameter names bert4keras accepts that ours refuses, and parameters ours requires that
    bert4keras does not."""
    try:
        parameters = inspect.signature(ours).parameters
    except (TypeError, ValueError):
        return []
    takes_any_keyword = any(p.kind == p.VAR_KEYWORD for p in parameters.values())
    problems = []
    their_required = set()
    for p in theirs or []:
        if p["kind"] in ("VAR_POSITIONAL", "VAR_KEYWORD") or p["name"] == "self":
            continue
        if not p["has_default"]:
            their_required.add(p["name"])
        if p["name"] not in parameters and not takes_any_keyword:
            problems.append(f"no parameter {p['name']!r}")
    for name, p in parameters.items():
        variadic = p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        if p.default is p.empty and not variadic and name != "self" and name not in their_required:
            problems.append(f"requires {name!r}")
    return problems


def problems_of(module, name):
    entry = SURFACE[module][name]
    ours_module = importlib.import_module(f"kerasformers.{module}")
    if not hasattr(ours_module, name):
        return {f"{module}.{name}": "missing"}
    ours = getattr(ours_module, name)
    found = {}
    if entry["kind"] == "function":
        for problem in signature_problems(entry["parameters"], ours):
            found[f"{module}.{name}"] = problem
    elif entry["kind"] == "class" and inspect.isclass(ours):
        for method, parameters in entry["methods"].items():
            key = f"{module}.{name}.{method}"
            if not hasattr(ours, method):
                found[key] = "missing method"
            elif method == "__init__":
                for problem in signature_problems(parameters, ours.__init__):
                    found[key] = problem
    return found


@pytest.mark.parametrize("module, name", ENTRIES, ids=[f"{m}.{n}" for m, n in ENTRIES])
def test_name_exists_or_is_documented(module, name):
    undocumented = {
        key: problem
        for key, problem in problems_of(module, name).items()
        if key not in DOCUMENTED and f"{module}.{name}" not in DOCUMENTED
    }
    assert not undocumented, (
        f"bert4keras.{module}.{name}: {undocumented}; fix it or list it in docs/migration.md"
    )


def test_documented_differences_are_real_bert4keras_names():
    for key in DOCUMENTED:
        module, name = key.split(".")[:2]
        assert name in SURFACE.get(module, {}), (
            f"docs/migration.md lists `bert4keras.{key}`, which does not exist"
        )


def test_inventory_is_complete():
    assert {m: len(n) for m, n in SURFACE.items()} == {
        "backend": 29,
        "layers": 22,
        "models": 21,
        "optimizers": 24,
        "snippets": 25,
        "tokenizers": 5,
    }
