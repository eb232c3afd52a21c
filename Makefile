# Quick start: `make demo` and `make test`; each creates/updates .venv by itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.PHONY: demo test system-deps clean

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { apt-get update -q && apt-get install -y python3-venv && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Debian packages the suite needs, installed only when missing: systemd-analyze, nft and
# shellcheck check the device image's units, firewall and scripts (tests/test_image_build.py);
# chromium is the headless browser of tests/test_browser.py (Playwright drives /usr/bin/chromium;
# it never downloads a browser).
APT_PACKAGES := systemd nftables shellcheck chromium
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -q && apt-get install -y -q $$missing; fi

# The whole suite, then the hardware-in-the-loop suite against the simulated rig.
test: $(STAMP) system-deps
	$(PY) -m pytest -q
	$(PY) -m pytest hw-tests --rig sim -q -p no:cacheprovider

# The appliance on a replayed drive-by with the web UI on http://127.0.0.1:8080 (Ctrl-C stops).
demo: $(STAMP)
	$(VENV)/bin/alpr demo

clean:
	rm -rf $(VENV) .demo .pytest_cache
