# Everything runs inside .venv, made on first use from pyproject.toml.
PY     := .venv/bin/python
STAMP  := .venv/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test,bench]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m reserving nightly --demo --out out/demo

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m benchmarks.run

# Numba's on-disk cache does not notice when a kernel's callee in another module changes:
# after editing a kernel that others call, clear it.
clean:
	find _kit reserving stoploss riskadjust benchmarks tests -name '*.nbi' -delete -o -name '*.nbc' -delete
