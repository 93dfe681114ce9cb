"""The API's base views: one operation per method, 405 before 401, bodies the contract's way."""

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import MethodNotAllowed, ParseError, UnsupportedMediaType
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

# drf-spectacular's stubs type `auth` as names, but it takes security requirement objects.
BEARER: Any = [{"OAuth2PasswordBearer": []}]
PUBLIC: Any = []

F = TypeVar("F", bound=Callable[..., Response])
PROBLEM = OpenApiResponse(description="Problem details (RFC 9457).")


def operation(
    operation_id: str,
    *,
    tag: str,
    summary: str,
    responses: dict[int, Any],
    problems: tuple[int, ...] = (),
    public: bool = False,
    **extra: Any,
) -> Callable[[F], F]:
    """`extend_schema` for one operation of the contract: its id, success and problem statuses."""
    decorate: Callable[[F], F] = extend_schema(
        operation_id=operation_id,
        tags=[tag],
        summary=summary,
        auth=PUBLIC if public else BEARER,
        responses={**responses, **dict.fromkeys(problems, PROBLEM)},
        **extra,
    )
    return decorate


def has_body(request: Request) -> bool:
    length = request.META.get("CONTENT_LENGTH") or "0"
    return length.isdigit() and int(length) > 0


def request_body(request: Request) -> Any:
    """The parsed body, or the contract's 400/415 when there is none to parse.

    DRF reads a missing body, or one without a `Content-Type`, as `{}`.
    """
    if not has_body(request):
        raise ParseError("The request body is empty.")
    if not request.content_type:
        raise UnsupportedMediaType("")
    return request.data


def no_store(response: Response) -> Response:
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


# A comment, not a docstring: drf-spectacular would publish a docstring as every
# operation's description. No OPTIONS handler: a CORS preflight is answered by the
# middleware, any other OPTIONS is 405. A method the path does not have is 405
# before authentication, where DRF would answer 401 first.
class MethodsFirst:
    http_method_names: Sequence[str] = ("get", "post", "put", "patch", "delete", "head")

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        method = (request.method or "").lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise MethodNotAllowed(request.method or "")
        super().initial(request, *args, **kwargs)  # type: ignore[misc]


class ApiView(MethodsFirst, APIView):
    pass


class PublicApiView(ApiView):
    """Open to anyone: no authentication is tried, so a stray Authorization header
    cannot turn the request into a 401."""

    authentication_classes = ()
    permission_classes = (AllowAny,)


class ApiViewSet(MethodsFirst, GenericViewSet):  # type: ignore[type-arg]
    pass
