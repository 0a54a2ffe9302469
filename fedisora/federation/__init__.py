"""Server-to-server federation: the app side of ActivityPub.

``activitypub/`` knows the protocol; this package wires it to our storage:
documents we publish (``documents``), remote actors and objects we fetch
(``remote``), the inbox (``inbox`` verifies and stores, ``handlers`` process),
and the outbox (``outbox`` addresses and queues, ``delivery`` sends).
"""
