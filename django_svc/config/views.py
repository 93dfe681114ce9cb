"""Liveness, readiness and the Prometheus metrics."""

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from api.views import ApiView
from config.metrics import render_metrics
from users.serializers import StatusOutput


class HealthApi(ApiView):
    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(
        operation_id="getHealth",
        tags=["health"],
        summary="Liveness; touches no database",
        auth=[],
        responses={200: StatusOutput},
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class ReadyApi(ApiView):
    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(
        operation_id="getReadiness",
        tags=["health"],
        summary="Readiness; the database (and Redis, when configured) answers",
        auth=[],
        responses={200: StatusOutput, 503: OpenApiResponse(description="Problem details.")},
    )
    def get(self, request: Request) -> Response:
        # Connection errors become a 503 problem in the exception handler.
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        if settings.REDIS_URL:
            from django_redis import get_redis_connection

            get_redis_connection("default").ping()
        return Response({"status": "ok"})


class MetricsApi(ApiView):
    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(
        operation_id="getMetrics",
        tags=["health"],
        summary="Prometheus metrics of the whole service, every worker process included",
        description="Prometheus text format, or OpenMetrics when `Accept` asks for it. "
        "No authentication: keep this path off the public ingress.",
        auth=[],
        responses={
            (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="The metrics."),
            (200, "application/openmetrics-text"): OpenApiResponse(
                OpenApiTypes.STR, description="The metrics."
            ),
        },
    )
    def get(self, request: Request) -> HttpResponse:
        body, content_type = render_metrics(request.headers.get("Accept"))
        return HttpResponse(body, content_type=content_type)
