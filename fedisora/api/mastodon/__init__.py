"""The Mastodon client API (``/api/v1``, ``/api/v2``, ``/oauth``), so existing apps work.

Each module holds one group of endpoints and exports ``routes``; this list is
what the app mounts.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from . import apps, instance, oauth
from . import accounts
from . import follow_requests
from . import preferences
from . import statuses, timelines
from . import notifications, markers, search, streaming
from . import media
from . import admin_attestations, admin_deliveries

routes: list[BaseRoute] = [
    *instance.routes,
    *apps.routes,
    *oauth.routes,
    *accounts.routes,
    *follow_requests.routes,
    *preferences.routes,
    *statuses.routes,
    *media.routes,
    *timelines.routes,
    *notifications.routes,
    *markers.routes,
    *search.routes,
    *streaming.routes,
    *admin_attestations.routes,
    *admin_deliveries.routes,
]
