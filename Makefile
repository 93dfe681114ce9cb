# One virtualenv per folder, created on first use from that folder's committed
# requirements, so a fresh clone needs only Python 3.11+ and make.
PYTHON ?= python3
SERVICES := fastapi django flask
FOLDERS := $(addsuffix _svc,$(SERVICES)) tests deploy benchmarks
VENVS := $(addsuffix /.venv/.installed,$(FOLDERS))

# How each service prepares its database (migrations, bootstrap admin) and
# serves; both run inside the service's folder. tests/servers.py mirrors these.
fastapi_PORT := 8001
fastapi_PREPARE := .venv/bin/alembic upgrade head && .venv/bin/python -m app.cli bootstrap-admin
fastapi_SERVE := .venv/bin/python -m app.serve
django_PORT := 8002
django_PREPARE := .venv/bin/python manage.py migrate --noinput
django_SERVE := .venv/bin/gunicorn config.wsgi
flask_PORT := 8003
flask_PREPARE := .venv/bin/flask --app app db upgrade && .venv/bin/flask --app app bootstrap-admin
flask_SERVE := .venv/bin/gunicorn 'app:create_app()'

POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15
CONTRACT := cd tests && .venv/bin/pytest --service all --durations=10

.DEFAULT_GOAL := help
.PHONY: help venvs run run-fastapi run-django run-flask test test-units test-contract \
	test-postgres test-redis fuzz lint mypy format lock check-drift validate-deploy copy-out \
	copy-out-fastapi copy-out-django copy-out-flask clean bench bench-smoke

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

run-fastapi run-django run-flask: run-%: %_svc/.venv/.installed ## Serve one service in the foreground; PORT overrides its port
	cd $*_svc && $($*_PREPARE) && PORT=$${PORT:-$($*_PORT)} exec $($*_SERVE)

test: test-units test-contract ## Unit tests of every service, then the contract suite against each, on SQLite

test-units: $(addsuffix _svc/.venv/.installed,$(SERVICES)) ## Each service's own tests
	set -e; for s in $(SERVICES); do echo "== $$s unit tests"; (cd $${s}_svc && .venv/bin/pytest); done

test-contract: $(addsuffix _svc/.venv/.installed,$(SERVICES)) tests/.venv/.installed ## The contract suite against every service on SQLite
	$(CONTRACT)

# The outage, start-up and SIGTERM tests bring their own database or Redis and
# already ran in test-contract, so the other modes leave them out; fuzzing runs
# on SQLite and PostgreSQL (Redis changes no response schema).
test-postgres: $(addsuffix _svc/.venv/.installed,$(SERVICES)) tests/.venv/.installed ## The contract suite on a fresh PostgreSQL database per server
	export CONTRACT_POSTGRES_URL=$(POSTGRES_URL) && $(CONTRACT) --database postgres -m "not mode_independent"

test-redis: $(addsuffix _svc/.venv/.installed,$(SERVICES)) tests/.venv/.installed ## The contract suite with the deny-list and throttling in Redis
	$(CONTRACT) --redis $(REDIS_TEST_URL) -m "not mode_independent and not fuzz"

FUZZ_EXAMPLES ?= 200

fuzz: $(addsuffix _svc/.venv/.installed,$(SERVICES)) tests/.venv/.installed ## Schemathesis against every service with a larger budget (FUZZ_EXAMPLES)
	$(CONTRACT) -m fuzz --fuzz-examples $(FUZZ_EXAMPLES)

lint: $(VENVS) ## ruff and mypy in every folder
	set -e; for f in $(FOLDERS); do echo "== $$f"; (cd $$f && .venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy); done

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

bench: $(addsuffix _svc/.venv/.installed,$(SERVICES)) benchmarks/.venv/.installed ## Benchmark the services (about 15 min); report, plots and the README table
	$(BENCH) --update-readme $(BENCH_ARGS)

bench-smoke: $(addsuffix _svc/.venv/.installed,$(SERVICES)) benchmarks/.venv/.installed ## The benchmark harness's tests, then a few seconds per scenario (report in a temporary folder)
	cd benchmarks && .venv/bin/pytest
	set -e; tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	  $(BENCH) --smoke --check --output $$tmp $(BENCH_ARGS); cat $$tmp/report.md

copy-out: copy-out-fastapi copy-out-django copy-out-flask ## Copy each service alone out of the repository, install, migrate and test it there

copy-out-fastapi copy-out-django copy-out-flask: copy-out-%: .tools/.installed
	set -e; tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; echo "== $* copied alone to $$tmp"; \
	tar -C $*_svc --exclude=.venv --exclude='*.sqlite3*' --exclude=__pycache__ --exclude='.*_cache' -cf - . \
	  | (mkdir -p $$tmp/$* && tar -C $$tmp/$* -xf -); \
	$(call VENV_FROM,$$tmp/$*) \
	  && cd $$tmp/$* && export DATABASE_URL=sqlite:///$$tmp/$*/db.sqlite3 && $($*_PREPARE) && .venv/bin/pytest

clean: ## Remove virtualenvs, caches and local databases
	rm -rf .tools $(addsuffix /.venv,$(FOLDERS))
	find . \( -name __pycache__ -o -name '.*_cache' -o -name '*.sqlite3*' \) -prune -exec rm -rf {} +
