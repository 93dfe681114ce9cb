"""The Django ceiling: one JsonResponse view, no middleware, no database; and its floor
for a request that reads the database: one user by primary key through the ORM
(psycopg, autocommit as Django always is), on psycopg's pool of the service's size,
with nothing else (no health check, no token, no middleware). `/drf/users/<id>` is the
same read through DRF's `RetrieveAPIView` and a declared-field `Serializer`, with
authentication and permissions off: the DRF stack the service is built on.

Served like the service, with its gunicorn.conf.py (run from django_svc/):
`.venv/bin/gunicorn --pythonpath ../benchmarks/bare django_app:application`.
`/users/<id>` needs DATABASE_URL: a database the service has migrated.
"""

import os
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

_url = urlsplit(os.environ.get("DATABASE_URL", ""))
settings.configure(
    DEBUG=False,
    SECRET_KEY="bare-benchmark-app-holds-no-secrets",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=["rest_framework"],
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": [],
        "DEFAULT_PERMISSION_CLASSES": [],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        "UNAUTHENTICATED_USER": None,
    },
    DATABASES=(
        {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": _url.path.lstrip("/"),
                "USER": _url.username or "",
                "PASSWORD": _url.password or "",
                "HOST": _url.hostname or "",
                "PORT": _url.port or "",
                "OPTIONS": {"pool": {"min_size": 1, "max_size": 5}},
            }
        }
        if _url.scheme
        else {}
    ),
)

import django  # noqa: E402

django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import models  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.shortcuts import get_object_or_404  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework import generics, serializers  # noqa: E402


class User(models.Model):
    email = models.CharField(max_length=254)

    class Meta:
        app_label = "bare"
        db_table = "users"
        managed = False


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def user(request: HttpRequest, user_id: int) -> JsonResponse:
    found: Any = get_object_or_404(User, pk=user_id)
    return JsonResponse({"id": found.id, "email": found.email})


class UserSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    email = serializers.CharField()


class UserView(generics.RetrieveAPIView[User]):
    queryset = User.objects.all()
    serializer_class = UserSerializer


urlpatterns = [
    path("health", health),
    path("users/<int:user_id>", user),
    path("drf/users/<int:pk>", UserView.as_view()),
]

application: WSGIHandler = get_wsgi_application()
