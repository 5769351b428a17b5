"""Upstream failures mapped to the protocol's error codes (PROTOCOL.md)."""
from __future__ import annotations


class UpstreamError(Exception):
    """A failure talking to a gateway, already classified.

    `code` is one of PROTOCOL.md's error codes; `retryable` says whether trying
    again later (or on another route) may help; `retry_after` is seconds, when
    the gateway said so.
    """

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
