"""Liveness and readiness."""

from django.conf import settings
from django.db import connection
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from users.serializers import StatusOutput
from users.views import ApiView


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
