"""Contract fuzzing: schemathesis against the running service, from the contract.

Every check (`--checks all`) and every phase (examples, coverage, fuzzing,
stateful through the contract's links), once as an ordinary user and once as
an admin, each a fresh account logged in through the token endpoint (see
`fuzz_hooks.py` for how the run keeps its token alive and leaves the users it
did not create alone). The seed is fixed so a run can be repeated; the budget
per operation is `--fuzz-examples` (or `CONTRACT_FUZZ_EXAMPLES`), small by
default so the whole suite stays quick.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from contract import OPENAPI_PATH
from helpers import Api

HERE = Path(__file__).resolve().parent
SEED = 20260101

pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(0)]


@pytest.fixture
def examples(pytestconfig: pytest.Config) -> int:
    return int(pytestconfig.getoption("--fuzz-examples"))


@pytest.mark.parametrize("role", ["user", "admin"])
def test_schemathesis(api: Api, role: str, examples: int) -> None:
    account = api.register(name="Fuzz Account", login=False)
    if role == "admin":
        api.make_admin(account)
    env = {
        **os.environ,
        "PYTHONPATH": str(HERE),
        "SCHEMATHESIS_HOOKS": "fuzz_hooks",
        "CONTRACT_FUZZ_BASE_URL": api.base_url,
        "CONTRACT_FUZZ_ROLE": role,
        "CONTRACT_FUZZ_EMAIL": account.email,
        "CONTRACT_FUZZ_PASSWORD": account.password,
        # Ids are assigned in increasing order: every user that existed before
        # the run has an id up to the run's own account's.
        "CONTRACT_FUZZ_PROTECTED_MAX_ID": str(account.id),
    }
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        str(OPENAPI_PATH),
        "--url",
        api.base_url,
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--seed",
        str(SEED),
        "--max-examples",
        str(examples),
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        # The accounts are throwaway: show the tokens and passwords in the report,
        # so that a failure can be replayed as printed.
        "--output-sanitize",
        "false",
        "--no-color",
    ]
    result = subprocess.run(
        command,
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120 + 60 * examples,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"schemathesis found failures ({role}, exit {result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}",
            pytrace=False,
        )
