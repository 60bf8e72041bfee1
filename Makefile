# hashlens: `make run` opens the app, `make test` runs the suite headless.
# Both create .venv on first use and are quick when nothing changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# GPU=1 installs TensorFlow's CUDA build instead of the CPU build (never both).
TF_EXTRA := $(if $(GPU),gpu,cpu)
STAMP := $(VENV)/.installed-$(TF_EXTRA)

.PHONY: setup run test lint bench bundle bundle-test clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@if [ "$(TF_EXTRA)" = gpu ]; then $(BIN)/python -m pip uninstall -y -q tensorflow-cpu || true; \
	 else $(BIN)/python -m pip uninstall -y -q tensorflow || true; fi
	$(BIN)/python -m pip install -q -e ".[$(TF_EXTRA),test]"
	rm -f $(VENV)/.installed-*
	touch $@

run: setup
	$(BIN)/hashlens

test: setup
	QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest -q tests

lint: setup
	$(BIN)/ruff check desktop_app tests bench build_scripts

bench: setup
	$(BIN)/python -m bench.run_all

# A one-folder desktop app in dist/hashlens/ that runs without Python (build_scripts/hashlens.spec).
bundle: setup
	$(BIN)/python -c "import PyInstaller" 2>/dev/null || $(BIN)/python -m pip install -q -e ".[$(TF_EXTRA),build]"
	$(BIN)/pyinstaller --noconfirm --clean --log-level WARN build_scripts/hashlens.spec
	@du -sh dist/hashlens

# Builds the bundle, then tags the shipped sample photo with it, headless (minutes; not in `make test`).
bundle-test: bundle
	QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=2 dist/hashlens/hashlens --self-test

clean:
	rm -rf $(VENV) build dist *.egg-info
