"""Our models as Mastodon client-API entities: the one place these conversions live.

Each function returns the JSON-ready ``dict`` of one entity in Mastodon 4.3's
shape (docs.joinmastodon.org/entities).  Ids are strings, timestamps
``YYYY-MM-DDTHH:MM:SS.mmmZ``.  Where an entity has a field for something we do
not store yet (bookmarks, mutes, pins, polls, custom emoji, filters, profile
fields), it carries Mastodon's default for "none" and a comment says so.
"""

from .accounts import AccountCache, account, mention, relationship, role
from .applications import application, status_application
from .common import acct, error, iso, iso_date
from .instance import activity as instance_activity
from .instance import instance_v1, instance_v2, version_string
from .instance import peers as instance_peers
from .notifications import marker, notification
from .statuses import context, media_attachment, status, statuses, tag

__all__ = [
    "AccountCache",
    "account",
    "acct",
    "application",
    "context",
    "error",
    "instance_activity",
    "instance_peers",
    "instance_v1",
    "instance_v2",
    "iso",
    "iso_date",
    "marker",
    "media_attachment",
    "mention",
    "notification",
    "relationship",
    "role",
    "status",
    "status_application",
    "statuses",
    "tag",
    "version_string",
]
