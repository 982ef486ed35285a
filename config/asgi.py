"""ASGI entry point: HTTP goes to Django, websockets to the Channels consumers."""

import gc
import logging
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402

from config.frames import FrameWriters  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402
from config.socket_user import SocketUserStack  # noqa: E402
from ops.probes import Probes  # noqa: E402
from ops.sockets import SocketCount  # noqa: E402
from sandbox.backends import backend_class  # noqa: E402
from sandbox.backends.config import HOST_ROOT_MODES, security_line  # noqa: E402
from sandbox.groups import WORKER_CHANNEL  # noqa: E402
from sandbox.worker import SandboxWorker  # noqa: E402

# Embedded use serves /static/ straight from the source folders; Podium's image serves the `collectstatic`
# output through WhiteNoise's middleware instead (PODIUM_STATIC=collected, see settings).
http_app = ASGIStaticFilesHandler(django_asgi_app) if settings.PODIUM_STATIC == "source" else django_asgi_app

application = ProtocolTypeRouter(
    {
        # SocketCount: open websockets by kind for /metrics, and the event loop lag sampler (ops).
        # Probes: /healthz and /readyz for any Host header and scheme (compose's proxy, a kubelet).
        "http": SocketCount(Probes(http_app)),
        # FrameWriters: a socket's direct frame writer under daphne, for fan-outs (config.frames).
        # SocketUserStack: the session and a lazy user, so no handshake waits for a database thread.
        "websocket": FrameWriters(
            SocketCount(AllowedHostsOriginValidator(SocketUserStack(URLRouter(websocket_urlpatterns))))
        ),
        # `manage.py runworker sandbox-runs`: the runs web processes hand over (see sandbox/worker.py).
        "channel": ChannelNameRouter({WORKER_CHANNEL: SandboxWorker.as_asgi()}),
    }
)

# Said once per server process, whoever started it (make serve, compose, a bare daphne): which sandbox
# security mode attendees get, loudly when it is host root.
_mode = settings.PODIUM_SANDBOX_SECURITY
logging.getLogger("podium").log(
    logging.WARNING if _mode in HOST_ROOT_MODES else logging.INFO, "sandbox security mode: %s", security_line(_mode)
)

# The backend's module, imported now rather than by the first page or run: it pulls in the docker and
# kubernetes clients, and that first import holds the interpreter for seconds. Done on a request's thread,
# it starved this process's event loop (every socket) while it lasted.
try:
    backend_class(settings.PODIUM_SANDBOX_BACKEND)
except ImproperlyConfigured as error:
    logging.getLogger("podium").warning("sandboxes are not configured: %s", error)

# Everything loaded by now (Django, the apps, the docker and kubernetes clients: about 200,000 objects) lives
# as long as the process. Frozen, the garbage collector no longer walks it on every full collection: one took
# about 90 ms here, on the event loop, and allocations under load (a room's runs, a talk's followers) set one
# off from time to time, stalling every socket of the process while it lasted.
gc.collect()
gc.freeze()
