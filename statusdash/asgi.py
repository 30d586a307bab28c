"""ASGI entry point: HTTP through Django, WebSockets through Channels (served by Daphne)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statusdash.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from dashboard import live  # noqa: E402
from statusdash.lib.bodylimit import BodyLimitMiddleware  # noqa: E402
from statusdash.lib.origin import SameOriginValidator  # noqa: E402
from statusdash.routing import websocket_urlpatterns  # noqa: E402

live.IN_WEB_PROCESS = True

application = ProtocolTypeRouter(
    {
        "http": BodyLimitMiddleware(django_asgi_app),
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
