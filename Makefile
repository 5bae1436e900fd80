# The two set-up commands of the README: `make demo` and `make test`. Both create or reuse .venv/.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip uv
	$(PY) -m uv pip install -q --python $(PY) -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/pf9wb demo

test: $(STAMP)
	$(VENV)/bin/ruff check pf9lib pf9sim tests benchmarks
	$(VENV)/bin/pytest -q

bench: $(STAMP)
	$(PY) -m benchmarks.run_all
