"""The Django ceiling: one JsonResponse view, no middleware, no database.

Served like the service, with its gunicorn.conf.py (run from django_svc/):
`.venv/bin/gunicorn --pythonpath ../benchmarks/bare django_app:application`.
"""

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, JsonResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="bare-benchmark-app-holds-no-secrets",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    DATABASES={},
)


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [path("health", health)]

application: WSGIHandler = get_wsgi_application()
