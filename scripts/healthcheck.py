"""Container health probe: GET /healthz (or the path given) on the local daphne.

    python scripts/healthcheck.py            # liveness
    python scripts/healthcheck.py /readyz    # readiness: database, channel layer, broker

Exits 0 on HTTP 200, 1 otherwise. Sends a Host header taken from ALLOWED_HOSTS so
Django does not answer 400 when ALLOWED_HOSTS names only the public domain.
Standard library only: the slim image has no curl.
"""
from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def allowed_host() -> str:
    for host in os.environ.get("ALLOWED_HOSTS", "").split(","):
        host = host.strip().lstrip(".")  # ".example.com" allows example.com itself
        if host and host != "*":
            return host
    return "localhost"


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "/healthz"
    port = os.environ.get("PORT", "8000")
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": allowed_host()})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
