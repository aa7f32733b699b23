# Two commands for a fresh clone:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
# Override for GPU machines, e.g.  make TORCH_SPEC="torch==2.14.1 torchvision==0.29.1 --index-url ..." test
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
BIN := $(VENV)/bin

.PHONY: demo test setup system-deps screenshots bench lint

$(BIN)/.installed: pyproject.toml Makefile
	@$(MAKE) --no-print-directory system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e '.[gui,ml,dev]'
	touch $@

setup: $(BIN)/.installed

# PortAudio (sound), PulseAudio with ALSA's pulse plugin (the audio test's null sink), Xvfb
# (screenshots); skipped quietly where apt-get is not ours to use.
SYSTEM_PACKAGES := libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins xvfb libegl1 libgl1 \
  libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 \
  libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0
system-deps:
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  dpkg -s $(SYSTEM_PACKAGES) >/dev/null 2>&1 || \
	  { apt-get update -qq >/dev/null 2>&1; apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null 2>&1 || true; }; \
	fi

# The studio on a generated demo; a headless report when there is no display.
demo: setup
	@if [ -n "$$DISPLAY" ] || [ -n "$$WAYLAND_DISPLAY" ]; then $(BIN)/avr-studio --demo; \
	else echo "No display: headless report on the demo benchmark."; $(BIN)/avr demo-report; fi

test: setup
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python benchmarks/bench_scoring.py
	$(BIN)/python benchmarks/bench_media.py

screenshots: setup
	scripts/screenshots.sh
