"""The websocket's Origin check: scheme, host and port must all match an origin we serve.

Channels' AllowedHostsOriginValidator compares only the host name with ALLOWED_HOSTS, so
`http://127.0.0.1:9999` (another app on the same machine, or plain HTTP beside HTTPS) was
let in for an app on port 8000. Here the Origin must be exactly the request's own origin
(its scheme and Host, the Host being one of ALLOWED_HOSTS) or one listed in
CSRF_TRUSTED_ORIGINS (as for Django's own CSRF check, `https://*.example.com` allowed).
A handshake without a Host (only an in-process client: browsers and every HTTP/1.1 client
send one) has no scheme and port to compare: its Origin's host is checked against
ALLOWED_HOSTS, PROTOCOL.md's own rule.
Anything else is refused before the consumer runs: daphne answers the upgrade with 403.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int]


def parse_origin(text: str) -> Origin | None:
    """(scheme, host, port) of an origin such as `https://chat.example.com`, or None if it is not one."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def _trusted(origin: Origin, pattern: str) -> bool:
    wanted = parse_origin(pattern.replace("://*.", "://wildcard."))
    if wanted is None:
        return False
    if "://*." in pattern:
        suffix = wanted[1].removeprefix("wildcard")  # ".example.com"
        return (origin[0], origin[2]) == (wanted[0], wanted[2]) and origin[1].endswith(suffix)
    return origin == wanted


def origin_allowed(origin: str, host: str, scheme: str, trusted: list[str], allowed_hosts: list[str]) -> bool:
    """Whether a websocket from `origin` may open on a request for `host` over `scheme` (ws or wss)."""
    found = parse_origin(origin)
    if found is None:
        return False
    if not host:  # no Host to match scheme and port with (an in-process client): the host name alone, as PROTOCOL.md
        return validate_host(found[1], allowed_hosts) or any(_trusted(found, pattern) for pattern in trusted)
    domain, _ = split_domain_port(host)
    own = parse_origin(f"{'https' if scheme == 'wss' else 'http'}://{host}")
    if domain and validate_host(domain, allowed_hosts) and found == own:
        return True
    return any(_trusted(found, pattern) for pattern in trusted)


def origin_refused(scope: Any) -> bool:
    """Whether a websocket handshake's Origin is not one we serve (see the module's docstring)."""
    origin = host = ""
    for name, value in scope.get("headers") or ():
        if name == b"origin":
            origin = value.decode("latin1")
        elif name == b"host":
            host = value.decode("latin1")
    return not origin_allowed(origin, host, scope.get("scheme", "ws"), settings.CSRF_TRUSTED_ORIGINS,
                              settings.ALLOWED_HOSTS)
