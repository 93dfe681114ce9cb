"""A real SMTP server in the suite's own process (aiosmtpd): the services the suite
starts send their mail here, and the tests read it to follow the links."""

from __future__ import annotations

import email
import email.policy
import functools
import re
import socket
import threading
import time
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

# The token is URL-safe (RFC 3986's unreserved characters), so a link needs no escaping.
LINK = re.compile(r"/(reset-password|verify-email)\?token=([A-Za-z0-9._~-]+)(?![^\s])")


class Inbox:
    def __init__(self) -> None:
        self._messages: list[EmailMessage] = []
        self._arrived = threading.Condition()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._arrived:
            self._messages.append(message)
            self._arrived.notify_all()
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        with self._arrived:
            return [m for m in self._messages if address.lower() in str(m["To"]).lower()]

    def wait_for(self, address: str, *, count: int = 1, timeout: float = 10) -> list[EmailMessage]:
        """The first `count` mails to `address`, waiting up to `timeout` for them."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(found := self.to(address)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(found)} of {count} mails to {address} arrived")
                self._arrived.wait(left)
        return found

    def token(self, address: str, kind: str, *, count: int = 1, timeout: float = 10) -> str:
        """The token in the `count`-th mail to `address` with a `kind` link."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(links := self._links(address, kind)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(links)} of {count} {kind} mails to {address}")
                self._arrived.wait(left)
        return links[count - 1]

    def _links(self, address: str, kind: str) -> list[str]:
        found = (LINK.search(str(message.get_content())) for message in self.to(address))
        return [match.group(2) for match in found if match and match.group(1) == kind]


@functools.cache
def inbox() -> Inbox:
    """The suite's one SMTP server, started on first use."""
    return Inbox()
