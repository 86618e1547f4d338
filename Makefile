# hypercl-tune: set up, test, lint and run the demo search.
#   make setup   create .venv: torch 2.13.0 (CPU wheel) first, then the project and its dev tools
#   make test    the test suite (real Ray, real MLflow, real C-STS when ../shared/data exists)
#   make demo    the main job on real C-STS: search, register the champion, export it

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATA_DIR ?= ../shared/data
DEMO_NAME ?= demo-$(shell date +%Y%m%d-%H%M%S)
PYTEST_ARGS ?=

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export RAY_USAGE_STATS_ENABLED := 0
export RAY_AUTH_MODE := disabled
export MLFLOW_DISABLE_TELEMETRY := true
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup test test-fast lint demo clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, from the CPU wheel: a bare torch requirement would pull a CUDA build.
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# pytest exits with 5 when it collects no test: that is a failure too, never a pass.
test: setup
	$(PY) -m pytest -q -ra $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
	exit $$status

test-fast: setup
	$(PY) -m pytest -q -ra -m "not slow" $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check hypercl tune search_spaces tracking tests
	$(VENV)/bin/ruff format --check hypercl tune search_spaces tracking tests

demo: setup
	$(PY) -m hypercl.data prepare-csts --archive $(DATA_DIR)/csts/csts.tar.enc \
		--password-file $(DATA_DIR)/csts/password.txt
	$(PY) tune/run.py --task csts --space minilm --data-dir $(DATA_DIR)/csts \
		--name $(DEMO_NAME) --num-samples 6 --max-epochs 2 \
		--max-train-rows 3000 --cpus-per-trial 2
	$(PY) -m tracking.export --model-uri models:/hypercl-csts-minilm@champion \
		--output-dir export --force --data-dir $(DATA_DIR)/csts \
		--password-file $(DATA_DIR)/csts/password.txt
	$(PY) -c "import json; s = json.load(open('ray_results/$(DEMO_NAME)/summary.json')); \
		print('best:', json.dumps(s.get('best', {}).get('metrics'), indent=1))"
	@echo "MLflow UI: $(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --host 127.0.0.1 --port 5000"

clean:
	rm -rf ray_results mlruns mlartifacts mlflow.db export outputs .pytest_cache
