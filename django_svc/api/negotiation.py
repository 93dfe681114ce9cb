"""The API speaks JSON only: an `Accept` header never turns a response into a 406."""

from collections.abc import Iterable

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class JSONOnlyContentNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        # The schema view offers a JSON renderer of its own; take the first one offered.
        renderer = next(iter(renderers))
        return renderer, renderer.media_type
