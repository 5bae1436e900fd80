# The two set-up commands of the README: `make demo` and `make test`. Both create or reuse .venv/.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-real lint bench venv

venv: $(STAMP)

# Every Voilà page visit starts a kernel that imports pandas, IPython, ipywidgets …: without .pyc files (uv
# writes none unless told, and PYTHONDONTWRITEBYTECODE=1 keeps Python from caching them) each kernel compiles
# them again, ~4x the import time and seconds per page on a loaded machine. compileall then covers a venv made
# before this rule (it skips what is compiled already).
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip uv
	$(PY) -m uv pip install -q --compile-bytecode --python $(PY) -e '.[test]'
	$(PY) -m compileall -q -j 0 $(VENV)/lib
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/pf9wb demo

test: $(STAMP)
	$(VENV)/bin/ruff check pf9lib pf9sim tests benchmarks
	$(VENV)/bin/pytest -q

# The real-OpenStack tier: builds/reuses .realos-venv, starts ../shared/realos, runs `pytest -m realos`, stops it.
test-real: $(STAMP)
	bash tests/realos/tier.sh

bench: $(STAMP)
	$(PY) -m benchmarks.run_all
