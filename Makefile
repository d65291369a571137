# Set-up and checks. Needs only python3 (3.11+) and make: the virtualenv is built from the lock.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements/dev.lock

.PHONY: serve test lint typecheck pytest lock openapi generated gallery bench bench-http bench-datasets bench-plots clean
.PHONY: deploy-tools lint-deploy container-test sdk-check sdk-lock

# The stamp is newer than the lock and pyproject once the venv matches them. The first build
# downloads ~150 packages: pip's own lines show how far it is.
$(STAMP): $(LOCK) pyproject.toml
	@echo "building the environment in $(VENV) from $(LOCK) (the first time: a few minutes)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --no-input --disable-pip-version-check --require-hashes \
		--no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The address and every other setting come from the LOSS_SERVICE_* environment (default
# 127.0.0.1:8000): LOSS_SERVICE_PORT=9000 make serve.
serve: $(STAMP)
	$(BIN)/loss-service serve

test: lint-deploy lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check service tests bench sdk
	$(BIN)/ruff format --check service tests bench sdk

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) deploy-tools
	$(BIN)/pytest -q

# Regenerate the locks after changing dependencies in pyproject.toml (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 -o requirements/dev.lock -q
	uv pip compile pyproject.toml --generate-hashes --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 -o requirements/runtime.lock -q

openapi: $(STAMP)
	$(BIN)/loss-service openapi > openapi.json

# Everything generated from the registry: openapi.json, the README's loss table and the gallery
# of plots in docs/plots and docs/losses.md (tests check that all are current).
generated: openapi gallery
	$(BIN)/python -m service.catalogue README.md

gallery: $(STAMP)
	$(BIN)/python -m service.plots docs/plots docs/losses.md

bench: $(STAMP)
	$(BIN)/python bench/core.py

# The HTTP benchmark (bench/README.md): starts and stops its own servers on 127.0.0.1.
bench-http: $(STAMP)
	$(BIN)/python bench/http.py

# The datasets benchmark (bench/README.md): 1e8 rows of Parquet in a temporary folder (~2 GB of
# disk, ~10 GB of memory for its pandas baseline), a LocalCluster and a server on 127.0.0.1.
bench-datasets: $(STAMP)
	$(BIN)/python bench/datasets.py

# The pictures (bench/README.md): cold and cached plots, and the size of the page at /.
bench-plots: $(STAMP)
	$(BIN)/python bench/plots.py

# The SDKs five generators make from openapi.json, type-checked and run against a live server
# (docs/sdk.md). Slower than make test (~2 min warm; the first run installs the tools, pinned in
# sdk/, into build/sdk-tools), so it is a target of its own, run by .ci/run after make test.
sdk-check: $(STAMP)
	$(BIN)/python sdk/check.py

# Re-pin the Python side of sdk-check after editing sdk/requirements.in (the npm side:
# npm install --package-lock-only in a copy of sdk/package.json).
sdk-lock:
	$(BIN)/uv pip compile sdk/requirements.in --generate-hashes --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 -o sdk/requirements.txt -q

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# Debian packages behind the deployment checks (command=package), installed when missing: CI
# starts from a machine with python3 and make. nginx serves tests/deploy/test_nginx.py; Chromium
# and its driver, tests/ui (the page at /).
DEPLOY_TOOLS := docker-compose=docker-compose nginx=nginx chromium=chromium chromedriver=chromium-driver

deploy-tools:
	@bash deploy/ensure-debian-packages.sh $(DEPLOY_TOOLS)

# The Dockerfile, the Kubernetes manifests (offline: the schemas ship with kubernetes-validate;
# 1.30 is the oldest version they target) and the compose file with and without its profile.
lint-deploy: $(STAMP) deploy-tools
	$(BIN)/hadolint Dockerfile
	$(BIN)/kubernetes-validate --strict --quiet deploy/kubernetes/*.yaml
	$(BIN)/kubernetes-validate --strict --quiet --kubernetes-version 1.30 deploy/kubernetes/*.yaml
	docker-compose --file docker-compose.yml config --quiet
	docker-compose --file docker-compose.yml --profile scaled config --quiet

# Builds the Dockerfile with podman on a local Debian base, runs the image, checks it, stops it.
container-test:
	bash deploy/container-test.sh
