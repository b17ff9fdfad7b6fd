# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both create .venv on first use and skip work already done (stamp files).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# The CPU build of torch; a bare `torch` requirement would pull a multi-GB CUDA build.
TORCH  := torch==2.13.0

.PHONY: demo test venv clean benchmark

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.torch: | $(PY)
	$(PIP) install -q $(TORCH)
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(PIP) install -q -e ".[all,dev]"
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(VENV)/bin/neuralscope demo --out neuralscope-demo

test: venv
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest tests

benchmark: venv
	$(PY) benchmarks/decoding.py

clean:
	rm -rf $(VENV) neuralscope-demo
