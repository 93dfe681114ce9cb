import os
import threading

from django.contrib.auth.hashers import Argon2PasswordHasher

# argon2 takes 64 MiB and a core per hash: more at once than the worker has cores only
# queue for the CPU and add to its memory (a login burst would exhaust it).
HASHING_SLOTS = threading.BoundedSemaphore(os.cpu_count() or 1)


class Argon2idPasswordHasher(Argon2PasswordHasher):
    """argon2id with argon2-cffi's defaults, the parameters shared by the three services,
    at most one hash per core at once.

    Django's own hasher uses time_cost=2, memory_cost=102400, parallelism=8;
    existing hashes with those parameters still verify and are upgraded on login.
    """

    time_cost = 3
    memory_cost = 65536
    parallelism = 4

    def encode(self, password: str, salt: str) -> str:
        with HASHING_SLOTS:
            return super().encode(password, salt)

    def verify(self, password: str, encoded: str) -> bool:
        with HASHING_SLOTS:
            return bool(super().verify(password, encoded))


class TestArgon2idPasswordHasher(Argon2idPasswordHasher):
    """Cheap parameters for APP_ENV=test only, where test suites register and log in
    thousands of users (cookiecutter-django's fast test hasher is the model)."""

    time_cost = 1
    memory_cost = 1024
    parallelism = 1
