# The two entry points of the README. Both create ./.venv from pyproject.toml on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test test-fast lint bench screenshots system-deps lock clean face-mesh-models bundle

# Debian packages of the real-tray test (Xvfb + the trayer tray host, Qt's xcb libraries). Installed
# when missing and apt-get can run (root or passwordless sudo); otherwise that one test skips.
TRAY_DEBS = xvfb trayer xauth libxcb-icccm4 libxcb-keysyms1 libxcb-render-util0 libxcb-image0 libxcb-cursor0 \
            libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-xkb1 libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1 libdbus-1-3
system-deps:
	@if command -v Xvfb >/dev/null && command -v trayer >/dev/null; then :; \
	elif command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] && SUDO= || { sudo -n true 2>/dev/null && SUDO=sudo; }; }; then \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(TRAY_DEBS) >/dev/null; \
	else echo "note: Xvfb/trayer not installable here; the real-tray test will skip"; fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Installs take the exact versions in constraints.txt, so a result does not depend on the day of the install.
$(VENV)/.runtime: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e .
	touch $@

$(VENV)/.dev: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e '.[train,dev]'
	touch $@ $(VENV)/.runtime

# Refresh constraints.txt on purpose: resolve pyproject.toml afresh in a scratch venv and pin what it got.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv && .lock-venv/bin/pip install -q -e '.[train,dev]'
	{ head -2 constraints.txt; .lock-venv/bin/pip freeze --exclude-editable | grep -v '^-e\|^deid-vcam' | sed 's/+cpu$$//'; } > constraints.new
	mv constraints.new constraints.txt && rm -rf .lock-venv

# Protect the built-in demo video (a real face photo, animated, with a 72 bpm pulse) with the default filter.
demo: $(VENV)/.runtime
	mkdir -p out
	$(BIN)/vcam-run --source demo --width 1280 --height 720 --sink out/demo.mp4 --frames 450 --json out/demo.json

# Lint first: a style or import error fails the run before the slow tests do.
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(VENV)/.dev system-deps lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

# The fast tier for day-to-day work: everything but the tests marked slow (whole CLI runs, training, learning).
test-fast: $(VENV)/.dev lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -m "not slow"

bench: $(VENV)/.dev
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/backends.py
	$(BIN)/python benchmarks/train_default.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/tray_soak.py --minutes 10

screenshots: $(VENV)/.dev
	QT_QPA_PLATFORM=offscreen $(BIN)/python packaging/screenshots.py

# Rebuild engine/assets/face_mesh/ from the pinned MediaPipe wheel (its card: engine/assets/face_mesh.md).
# The converter's TensorFlow lives in a throw-away venv; the runtime needs neither it nor mediapipe.
face-mesh-models:
	rm -rf .convert-venv && $(PYTHON) -m venv .convert-venv
	.convert-venv/bin/pip install -q tensorflow-cpu==2.21.0 tf2onnx==1.17.0
	.convert-venv/bin/python export/face_mesh_models.py
	rm -rf .convert-venv

# The Linux desktop bundle: dist/deid-vcam/ (vcam-tray, vcam-run, vcam-restore, vcam-key and what they
# need, no Python install required), built in a throw-away venv with the runtime only, then checked
# and screenshot under Xvfb (packaging/bundle/README.md).
bundle: $(VENV)/.dev system-deps
	rm -rf .bundle-venv build/bundle dist/deid-vcam && $(PYTHON) -m venv .bundle-venv
	.bundle-venv/bin/pip install -q -c constraints.txt . pyinstaller==6.22.3
	.bundle-venv/bin/pyinstaller --noconfirm --log-level WARN --distpath dist --workpath build/bundle packaging/bundle/deid-vcam.spec
	rm -rf .bundle-venv
	$(BIN)/python packaging/bundle/smoke.py
	tar -C dist -czf dist/deid-vcam-linux-x86_64.tar.gz deid-vcam

clean:
	rm -rf $(VENV) out .pytest_cache
