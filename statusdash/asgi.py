"""ASGI entry point: HTTP through Django, WebSockets through Channels (served by Daphne)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statusdash.settings")
django.setup(set_prefix=False)  # what get_asgi_application() does before making Django's handler

from django.conf import settings  # noqa: E402  (needs Django set up first)

from statusdash.lib.request_threads import PooledThreadsASGIHandler  # noqa: E402

django_asgi_app = PooledThreadsASGIHandler(settings.WEB_THREADS)

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
