# The two set-up commands of the README: `make demo` and `make test`. Both create or reuse .venv/.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-real lint bench venv

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

# The real-OpenStack tier: builds/reuses .realos-venv, starts ../shared/realos, runs `pytest -m realos`, stops it.
test-real: $(STAMP)
	bash tests/realos/tier.sh

bench: $(STAMP)
	$(PY) -m benchmarks.run_all
