# hashlens: `make run` opens the app, `make test` runs the suite headless.
# Both create .venv on first use and are quick when nothing changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The app itself runs its models on LiteRT and needs no TensorFlow: `make setup` / `make run`
# install none. Training, the conversion scripts and the tests need it: `make setup-dev` /
# `make test` add TensorFlow's CPU build, or with GPU=1 its CUDA build (never both: they
# install the same package). `make setup GPU=1` adds the CUDA build to the app (GPU path).
TF_EXTRA := $(if $(GPU),gpu,train)
APP_EXTRAS := $(if $(GPU),[gpu],)
# (A variable: a literal comma would split $(call ...)'s arguments.)
DEV_EXTRAS := [$(TF_EXTRA),test]
APP_STAMP := $(VENV)/.installed-app$(if $(GPU),-gpu,)
DEV_STAMP := $(VENV)/.installed-dev-$(TF_EXTRA)

.PHONY: setup setup-dev run test lint bench bundle bundle-test clean install-desktop

setup: $(APP_STAMP)
setup-dev: $(DEV_STAMP)

define install
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@if [ "$(GPU)" ]; then $(BIN)/python -m pip uninstall -y -q tensorflow-cpu || true; \
	 elif [ "$(1)" != "" ]; then $(BIN)/python -m pip uninstall -y -q tensorflow || true; fi
	$(BIN)/python -m pip install -q -e ".$(1)"
endef

$(APP_STAMP): pyproject.toml
	$(call install,$(APP_EXTRAS))
	rm -f $(VENV)/.installed-app*
	touch $@

$(DEV_STAMP): pyproject.toml
	$(call install,$(DEV_EXTRAS))
	rm -f $(VENV)/.installed-*
	touch $(APP_STAMP) $@

run: setup
	$(BIN)/hashlens

test: setup-dev
	QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest -q tests

lint: setup-dev
	$(BIN)/ruff check desktop_app tests bench build_scripts

bench: setup-dev
	$(BIN)/python -m bench.captioner_speed

# A one-folder desktop app in dist/hashlens/ that runs without Python (build_scripts/hashlens.spec).
bundle: setup
	$(BIN)/python -c "import PyInstaller" 2>/dev/null || $(BIN)/python -m pip install -q -e ".[build]"
	$(BIN)/pyinstaller --noconfirm --clean --log-level WARN build_scripts/hashlens.spec
	@du -sh dist/hashlens

# Builds the bundle, checks that no TensorFlow, Keras or h5py reached it (the app runs on LiteRT),
# then tags the shipped sample photo with it, headless (minutes; not in `make test`).
bundle-test: bundle
	@tf=$$(find dist/hashlens \( -iname '*tensorflow*' ! -iname '*tensorflow_lite*' \) -o -iname '*keras*' -o -iname 'h5py*'); \
	 if [ -n "$$tf" ]; then echo "TensorFlow in the bundle (see hashlens.spec's excludes):"; echo "$$tf" | head; exit 1; fi
	QT_QPA_PLATFORM=offscreen dist/hashlens/hashlens --self-test

# Linux: a desktop entry (the app in menus; "Open with hashlens" on photos, which hands them to
# the window already open) and its icon, for this user. DESKTOP_DIR overrides where they go.
DESKTOP_DIR ?= $(or $(XDG_DATA_HOME),$(HOME)/.local/share)
HASHLENS_EXEC ?= $(abspath $(BIN))/hashlens
install-desktop:
	@test -x "$(HASHLENS_EXEC)" || { echo "no $(HASHLENS_EXEC): run make setup first"; exit 1; }
	mkdir -p "$(DESKTOP_DIR)/applications" "$(DESKTOP_DIR)/icons/hicolor/scalable/apps"
	sed "s|@EXEC@|$(HASHLENS_EXEC)|g" resources/desktop/hashlens.desktop > "$(DESKTOP_DIR)/applications/hashlens.desktop"
	cp resources/desktop/hashlens.svg "$(DESKTOP_DIR)/icons/hicolor/scalable/apps/hashlens.svg"
	@if command -v update-desktop-database >/dev/null; then update-desktop-database -q "$(DESKTOP_DIR)/applications"; fi
	@echo "installed $(DESKTOP_DIR)/applications/hashlens.desktop"

clean:
	rm -rf $(VENV) build dist *.egg-info
