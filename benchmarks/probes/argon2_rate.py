"""How many password verifications per second one CPU core does, with a service's own hasher.

Run with the service's virtualenv, from the service's folder, in its environment:
`.venv/bin/python ../benchmarks/probes/argon2_rate.py fastapi --cpu 0 --seconds 5`,
then a line on standard input to start.
The hasher is the one the service logs in with, built from the service's own
configuration, so its argon2 parameters are whatever that configuration says.
Prints `ready`, then one JSON object: the parameters read back from a hash, and
the count of verifications in the time measured.
"""

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

PASSWORD = "benchmark password"
Verifier = Callable[[], bool]


def fastapi_verifier() -> tuple[str, Verifier]:
    from app.config import get_settings
    from app.security import password_hasher

    hasher = password_hasher(get_settings())
    encoded = hasher.hash(PASSWORD)
    return encoded, lambda: bool(hasher.verify(PASSWORD, encoded))


def django_verifier() -> tuple[str, Verifier]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.contrib.auth.hashers import check_password, make_password

    encoded = make_password(PASSWORD)
    return encoded, lambda: bool(check_password(PASSWORD, encoded))


def flask_verifier() -> tuple[str, Verifier]:
    from app import create_app
    from app.security import hash_password, verify_password

    create_app().app_context().push()  # the hasher follows the app's configuration
    encoded = hash_password(PASSWORD)
    return encoded, lambda: bool(verify_password(encoded, PASSWORD))


VERIFIERS: dict[str, Callable[[], tuple[str, Verifier]]] = {
    "fastapi": fastapi_verifier,
    "django": django_verifier,
    "flask": flask_verifier,
}


def parameters(encoded: str) -> dict[str, str | int]:
    """argon2 variant and m, t, p as written in the hash itself."""
    match = re.search(r"\$(argon2(?:id|i|d))\$v=\d+\$m=(\d+),t=(\d+),p=(\d+)\$", encoded)
    if match is None:
        return {"algorithm": encoded.split("$", 1)[0]}
    variant, memory, time_cost, lanes = match.groups()
    return {
        "algorithm": variant,
        "memory_kib": int(memory),
        "time_cost": int(time_cost),
        "parallelism": int(lanes),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("service", choices=sorted(VERIFIERS))
    parser.add_argument("--cpu", type=int, required=True, help="the one core to run on")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()

    # Run from the service's folder: its packages import as the server imports them.
    sys.path.insert(0, str(Path.cwd()))
    os.sched_setaffinity(0, {args.cpu})
    encoded, verify = VERIFIERS[args.service]()
    if not verify():
        print("error: the hasher does not verify its own hash", file=sys.stderr)
        return 1
    # Several probes started together begin measuring at the same moment: each says
    # it is ready, and starts on the runner's word.
    print("ready", flush=True)
    sys.stdin.readline()
    count = 0
    began = time.perf_counter()
    while (elapsed := time.perf_counter() - began) < args.seconds:
        verify()
        count += 1
    print(json.dumps({"parameters": parameters(encoded), "verifies": count, "seconds": elapsed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
