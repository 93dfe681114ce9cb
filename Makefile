# One virtualenv per folder, created on first use from that folder's committed
# requirements, so a fresh clone needs only Python 3.11+ and make.
PYTHON ?= python3
SERVICES := fastapi django flask
FOLDERS := $(addsuffix _svc,$(SERVICES)) tests deploy benchmarks docs
VENVS := $(addsuffix /.venv/.installed,$(FOLDERS))

# How each service prepares its database (migrations, bootstrap admin) and
# serves; both run inside the service's folder. tests/servers.py mirrors these.
fastapi_PORT := 8001
fastapi_PREPARE := .venv/bin/alembic upgrade head && .venv/bin/python -m app.cli bootstrap-admin
fastapi_SERVE := .venv/bin/python -m app.serve
django_PORT := 8002
django_PREPARE := .venv/bin/python manage.py migrate --noinput && .venv/bin/python manage.py bootstrap_admin
django_SERVE := .venv/bin/gunicorn config.wsgi
flask_PORT := 8003
flask_PREPARE := .venv/bin/flask --app app db upgrade && .venv/bin/flask --app app bootstrap-admin
flask_SERVE := .venv/bin/gunicorn 'app:create_app()'

POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
# The contract suite empties its Redis database at start: one per service.
REDIS_TEST_SERVER ?= redis://127.0.0.1:6379
fastapi_REDIS_DB := 13
django_REDIS_DB := 14
flask_REDIS_DB := 15
FUZZ_EXAMPLES ?= 200
# The three services side by side, on both cores; each one's output is printed
# whole when it ends.
SIDE_BY_SIDE := $(MAKE) --no-print-directory -j3 --output-sync=target
SERVICE_VENVS := $(addsuffix _svc/.venv/.installed,$(SERVICES))

# What the contract suite runs in each MODE. The outage, start-up, SIGTERM and
# keep-alive tests bring their own database or Redis and run in the SQLite mode
# only; fuzzing runs on SQLite and PostgreSQL (Redis changes no response schema).
MODE ?= sqlite
CONTRACT_sqlite :=
CONTRACT_postgres := --database postgres -m "not mode_independent"
CONTRACT_redis = --redis $(REDIS_TEST_SERVER)/$($*_REDIS_DB) -m "not mode_independent and not fuzz"
CONTRACT_fuzz := -m fuzz --fuzz-examples $(FUZZ_EXAMPLES)

.DEFAULT_GOAL := help
.PHONY: help venvs run run-fastapi run-django run-flask admin-fastapi admin-django admin-flask test test-units test-contract \
	test-postgres test-redis fuzz lint mypy format lock check-drift validate-deploy copy-out \
	copy-out-fastapi copy-out-django copy-out-flask starter clean bench bench-smoke \
	docs docs-serve test-docs

help: ## List the targets
	@grep -hE '^[a-z% -]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-34s %s\n", $$1, $$2}'

# uv (installed from the package index into .tools) builds a virtualenv from its
# locked requirements in seconds where pip takes minutes.
UV := $(CURDIR)/.tools/bin/uv
VENV_FROM = $(UV) venv --quiet --python $(PYTHON) $(1)/.venv \
	&& $(UV) pip sync --quiet --python $(1)/.venv/bin/python $(1)/requirements-dev.txt

%/.venv/.installed: %/requirements-dev.txt .tools/.installed
	rm -rf $*/.venv
	$(call VENV_FROM,$*)
	touch $@

venvs: $(VENVS) ## Create every virtualenv

run: $(addsuffix _svc/.venv/.installed,$(SERVICES)) ## Serve all three services (8001-8003) on SQLite; Ctrl-C stops all
	env -u PORT $(MAKE) --no-print-directory -j3 $(addprefix run-,$(SERVICES))

# Each worker binds the port with SO_REUSEPORT, so a second server on a taken port would
# start quietly beside the first: say so instead.
PORT_TAKEN = python3 -c 'import socket, sys; host, port = sys.argv[1], int(sys.argv[2]); \
  sys.exit(f"error: {host}:{port} is already in use (set PORT)" if socket.socket().connect_ex((host, port)) == 0 else 0)'

fastapi_CREATE_ADMIN = .venv/bin/python -m app.cli create-admin
django_CREATE_ADMIN = .venv/bin/python manage.py createsuperuser
flask_CREATE_ADMIN = .venv/bin/flask --app app create-admin

admin-fastapi admin-django admin-flask: admin-%: %_svc/.venv/.installed ## Create an admin in one service's database, asking for the password (ARGS="--email a@b.io" for FastAPI)
	cd $*_svc && $($*_PREPARE) && $($*_CREATE_ADMIN) $(ARGS)

run-fastapi run-django run-flask: run-%: %_svc/.venv/.installed ## Serve one service in the foreground; PORT overrides its port
	$(PORT_TAKEN) $${HOST:-127.0.0.1} $${PORT:-$($*_PORT)}
	cd $*_svc && $($*_PREPARE) && PORT=$${PORT:-$($*_PORT)} exec $($*_SERVE)

test: test-units test-contract test-docs ## Unit tests of every service, the contract suite against each on SQLite, the docs site

test-units: $(SERVICE_VENVS) ## Each service's own tests, the three side by side
	$(SIDE_BY_SIDE) $(addprefix units-,$(SERVICES))

units-%: %_svc/.venv/.installed ## One service's own tests (units-fastapi, ...)
	@echo "== $* unit tests"
	cd $*_svc && .venv/bin/pytest

test-contract: $(SERVICE_VENVS) tests/.venv/.installed ## The contract suite against every service on SQLite
	$(SIDE_BY_SIDE) MODE=sqlite $(addprefix contract-,$(SERVICES))

test-postgres: $(SERVICE_VENVS) tests/.venv/.installed ## The contract suite on a fresh PostgreSQL database per server
	$(SIDE_BY_SIDE) MODE=postgres $(addprefix contract-,$(SERVICES))

test-redis: $(SERVICE_VENVS) tests/.venv/.installed ## The contract suite with the deny-list and throttling in Redis
	$(SIDE_BY_SIDE) MODE=redis $(addprefix contract-,$(SERVICES))

fuzz: $(SERVICE_VENVS) tests/.venv/.installed ## Schemathesis against every service with a larger budget (FUZZ_EXAMPLES)
	$(SIDE_BY_SIDE) MODE=fuzz $(addprefix contract-,$(SERVICES))

contract-%: %_svc/.venv/.installed tests/.venv/.installed ## The contract suite against one service (contract-fastapi, ...); MODE=sqlite|postgres|redis|fuzz
	@echo "== $* contract suite ($(MODE))"
	cd tests && CONTRACT_POSTGRES_URL=$(POSTGRES_URL) \
	  .venv/bin/pytest --service $* --durations=10 $(CONTRACT_$(MODE))

lint: $(VENVS) ## ruff and mypy in every folder
	$(SIDE_BY_SIDE) $(addprefix lint-,$(FOLDERS))

lint-%: %/.venv/.installed
	@echo "== $*"
	cd $* && .venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

mypy: $(VENVS) ## mypy in every folder
	set -e; for f in $(FOLDERS); do (cd $$f && .venv/bin/mypy); done

format: $(VENVS) ## Apply ruff's fixes and formatting everywhere
	for f in $(FOLDERS); do (cd $$f && .venv/bin/ruff check --fix . ; .venv/bin/ruff format .); done

.tools/.installed:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv>=0.13,<0.14"
	touch $@

COMPILE := $(UV) pip compile pyproject.toml --universal --python-version 3.11 --no-header --quiet

lock: .tools/.installed ## Recompile every requirements*.txt from its pyproject.toml
	set -e; for f in $(FOLDERS); do \
	  (cd $$f && if [ -f requirements.txt ]; then $(COMPILE) -o requirements.txt; fi \
	          && $(COMPILE) --group dev -o requirements-dev.txt); \
	done

# The side-by-side guide (docs/): Material for MkDocs, every code block included from the
# services' files, so a section that no longer exists fails the strict build.
DOCS_MKDOCS := cd docs && NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs

docs: docs/.venv/.installed ## Build the side-by-side guide into site/ (strict: a missing code section fails)
	$(DOCS_MKDOCS) build --strict

docs-serve: docs/.venv/.installed ## Serve the guide at http://127.0.0.1:8000, rebuilt on every change
	$(DOCS_MKDOCS) serve --dev-addr 127.0.0.1:8000

test-docs: docs/.venv/.installed ## Build the guide and read every page in headless Chromium
	cd docs && .venv/bin/pytest

check-drift: $(addsuffix _svc/.venv/.installed,$(SERVICES)) ## Fail when a model differs from its migrations, or Flask's contract copy from the contract
	set -e; tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	(cd fastapi_svc && export DATABASE_URL=sqlite:///$$tmp/fastapi.sqlite3 && .venv/bin/alembic upgrade head && .venv/bin/alembic check); \
	(cd django_svc && export DATABASE_URL=sqlite:///$$tmp/django.sqlite3 && .venv/bin/python manage.py makemigrations --check --dry-run); \
	(cd flask_svc && export DATABASE_URL=sqlite:///$$tmp/flask.sqlite3 && .venv/bin/flask --app app db upgrade && .venv/bin/flask --app app db check); \
	cmp shared_contract/openapi.yaml flask_svc/app/openapi.yaml

validate-deploy: deploy/.venv/.installed ## Compose file, Dockerfiles and Kubernetes manifests, checked statically
	cd deploy && .venv/bin/pytest

# wrk against each service and its framework's bare app, on PostgreSQL
# (benchmarks/README.md). BENCH_ARGS passes options: BENCH_ARGS='--duration 20'.
BENCH_ARGS ?=
BENCH := cd benchmarks && .venv/bin/python -m bench --postgres-url $(POSTGRES_URL)

bench: $(addsuffix _svc/.venv/.installed,$(SERVICES)) benchmarks/.venv/.installed ## Benchmark the services (about 18 min); report, plots and the README table
	$(BENCH) --update-readme $(BENCH_ARGS)

bench-smoke: $(addsuffix _svc/.venv/.installed,$(SERVICES)) benchmarks/.venv/.installed ## The benchmark harness's tests, then a few seconds per scenario (report in a temporary folder)
	cd benchmarks && .venv/bin/pytest
	set -e; tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	  $(BENCH) --smoke --check --output $$tmp $(BENCH_ARGS); cat $$tmp/report.md

copy-out: .tools/.installed ## Copy each service alone out of the repository, install, migrate and test it there
	$(SIDE_BY_SIDE) $(addprefix copy-out-,$(SERVICES))

starter: ## Copy one service out as a new project, without its virtualenv, databases or caches: make starter SERVICE=fastapi DEST=../my-api
	@test -n "$(SERVICE)" -a -n "$(DEST)" || { echo "usage: make starter SERVICE=fastapi|django|flask DEST=<new folder>"; exit 2; }
	@test -d "$(SERVICE)_svc" || { echo "error: no service $(SERVICE) (fastapi, django or flask)"; exit 2; }
	@test ! -e "$(DEST)" || { echo "error: $(DEST) already exists"; exit 2; }
	mkdir -p "$(DEST)"
	tar -C $(SERVICE)_svc --exclude=.venv --exclude='*.sqlite3*' --exclude=__pycache__ --exclude='.*_cache' -cf - . \
	  | tar -C "$(DEST)" -xf -
	@echo "$(DEST): the $(SERVICE) service on its own; its README.md says how to run it"

copy-out-fastapi copy-out-django copy-out-flask: copy-out-%: .tools/.installed
	set -e; tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; echo "== $* copied alone to $$tmp"; \
	$(MAKE) --no-print-directory starter SERVICE=$* DEST=$$tmp/$*; \
	$(call VENV_FROM,$$tmp/$*) \
	  && cd $$tmp/$* && export DATABASE_URL=sqlite:///$$tmp/$*/db.sqlite3 && $($*_PREPARE) && .venv/bin/pytest

clean: ## Remove virtualenvs, caches and local databases
	rm -rf .tools $(addsuffix /.venv,$(FOLDERS))
	find . \( -name __pycache__ -o -name '.*_cache' -o -name '*.sqlite3*' \) -prune -exec rm -rf {} +
