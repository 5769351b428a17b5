"""ASGI entry point: HTTP (Django), the chat websocket, the Team API's completions, and the built-in emulator.

POST /v1/chat/completions skips Django's request handling and page middleware (teamapi.asgi).

The emulator is mounted at /emulator/ so `make run` works with one process and
no API key; it is an independent ASGI app that never touches our database.
"""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grokweb.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter
from django.conf import settings

from accounts.socket_auth import SocketAuthMiddleware
from chat.routing import websocket_urlpatterns
from emulator.app import make_emulator
from gateways.providers import emulator_key
from teamapi import asgi as teamapi_asgi

from .lean_sockets import lean_websockets
from .origin import OriginCheck
from .serving import (
    answer_overlong_lines,
    close_codes_on_failure,
    plain_autobahn_log_arguments,
    prompt_writes,
    quick_content_types,
)

answer_overlong_lines()
prompt_writes()  # a chunk or frame goes out when it is sent, not at the event loop's next turn
quick_content_types()  # a POST's Content-Type without the e-mail parser
plain_autobahn_log_arguments()  # no click colouring of unused debug log arguments per frame
lean_websockets()  # an open socket keeps only what it still uses (grokweb.lean_sockets)
close_codes_on_failure()  # a socket failed by a limit or a protocol error hears why (1009, 1002, 1007)

# It answers only callers holding the emulator provider's own key (401 otherwise, as a gateway would).
_emulator = make_emulator(flavour="xai", delay_scale=settings.EMULATOR_DELAY_SCALE, api_key=emulator_key())


async def http_app(scope, receive, send):  # type: ignore[no-untyped-def]
    """Route /emulator/ to the emulator, the Team API's completions to their lean app, everything else to Django."""
    if scope["type"] == "http" and scope["path"] in teamapi_asgi.PATHS:
        return await teamapi_asgi.app(scope, receive, send)
    if scope["type"] == "http" and scope["path"].startswith("/emulator/"):
        return await _emulator(scope, receive, send)
    return await django_asgi_app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http_app,
        # Origin must match scheme, host and port of one we serve (grokweb.origin).
        "websocket": OriginCheck(SocketAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
