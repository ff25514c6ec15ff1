# Two commands a newcomer needs:  make demo   and   make test
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test setup sysdeps lint typecheck unit golden docs bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

sysdeps:
	sh scripts/install-sysdeps

## demo: validate, compile and lint the bundled example, then plan it against the sandbox hosts
demo: setup
	$(BIN)/tlsc validate examples/canit-cluster.yaml
	rm -rf build/demo
	$(BIN)/tlsc compile examples/canit-cluster.yaml --out build/demo
	@for f in $$(find build/demo/colo11 -type f | sort); do echo "==> $$f"; cat $$f; done
	$(BIN)/tlsc lint $$(find build/demo -type f | sort)
	$(BIN)/tlsc plan examples/canit-cluster.yaml --state examples/sandbox

## test: style, types and the whole test suite (real m4 and makemap included)
test: setup sysdeps lint typecheck unit

lint:
	$(BIN)/ruff check compiler tests bench ansible
	$(BIN)/ruff format --check compiler tests bench ansible

typecheck:
	$(BIN)/mypy compiler

# the venv's bin on PATH: the pre-commit hook test runs `tlsc` as a hook would
unit:
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q

## golden: regenerate the expected compiler output under tests/golden (review the diff!)
golden: setup
	$(BIN)/python tests/regen_golden.py

## docs: regenerate docs/spec.md, the spec reference, from the models (review the diff!)
docs: setup
	$(BIN)/python -m compiler.docs

bench: setup
	$(BIN)/python bench/compile_bench.py

clean:
	rm -rf build $(VENV) .pytest_cache .mypy_cache .ruff_cache
