"""OAuth 2 for the Mastodon client API: the logic behind ``/api/v1/apps`` and ``/oauth/*``.

``scopes`` (what scopes exist and imply), ``apps`` (registered clients),
``codes`` (authorization codes, PKCE), ``tokens`` (access tokens), ``login``
(password checks), ``login_limits`` (limits on sign-in attempts),
``authorization`` (the authorize request and its form token), ``grants`` (the
token endpoint).  The HTTP layer is in
``fedisora.api.mastodon``; ``fedisora.api.mastodon.auth`` is what other
endpoints use to authenticate requests.
"""
