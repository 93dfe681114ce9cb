from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPasswordHasher(Argon2PasswordHasher):
    """argon2id with argon2-cffi's defaults, the parameters shared by the three services.

    Django's own hasher uses time_cost=2, memory_cost=102400, parallelism=8;
    existing hashes with those parameters still verify and are upgraded on login.
    """

    time_cost = 3
    memory_cost = 65536
    parallelism = 4


class TestArgon2idPasswordHasher(Argon2idPasswordHasher):
    """Cheap parameters for APP_ENV=test only, where test suites register and log in
    thousands of users (cookiecutter-django's fast test hasher is the model)."""

    time_cost = 1
    memory_cost = 1024
    parallelism = 1
