"""Mastodon.py logs in to a real ``fedisora serve`` process: app registration, the password
grant, and the authorization-code flow with the form filled in as a browser would."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from mastodon import Mastodon
from mastodon.errors import MastodonIllegalArgumentError, MastodonUnauthorizedError

from tests.processes import cli, free_port, shown, start, stop, wait_healthy

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"
EMAIL = "alice@example.com"
SCOPES = ["read", "write", "follow"]
OOB = "urn:ietf:wg:oauth:2.0:oob"


class Inputs(HTMLParser):
    """The form action and named inputs of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = a.get("action", "")
        if tag == "input" and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")


def inputs(html: str) -> Inputs:
    parser = Inputs()
    parser.feed(html)
    return parser


def fill_in_form(url: str, username: str, password: str) -> httpx.Response:
    """Open the authorize page, type the credentials, press "Authorize" (redirects not followed)."""
    with httpx.Client(timeout=10.0) as browser:  # keeps the form's cookie, like a browser
        page = browser.get(url)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        form = inputs(page.text)
        assert form.action
        fields = {**form.fields, "username": username, "password": password, "decision": "approve"}
        return browser.post(urljoin(url, form.action), data=fields)


def dev_instance(tmp_path: Path, database_url: str, names: list[str]) -> tuple[int, Path]:
    """``fedisora init --dev`` on a free port, with an account ``name`` (``name@example.com``,
    :data:`PASSWORD`) made by the CLI for each of ``names``; the port and the config path."""
    port = free_port()
    init = cli(
        "init", "--domain", f"localhost:{port}", "--dev", "--data-dir", "D",
        "--database-url", database_url, cwd=tmp_path,
    )  # fmt: skip
    assert init.returncode == 0, shown(init)
    config_path = tmp_path / "D" / "instance.toml"
    for name in names:
        created = cli(
            "account", "create", name, "--email", f"{name}@example.com", "--password-stdin",
            "--config", config_path, cwd=tmp_path, input=PASSWORD + "\n",
        )  # fmt: skip
        assert created.returncode == 0, shown(created)
    return port, config_path


async def test_mastodon_py_registers_and_logs_in(tmp_path: Path, database_url: str) -> None:
    port, config_path = dev_instance(tmp_path, database_url, ["alice"])
    base = f"http://localhost:{port}"
    server = start(
        "serve", "--config", config_path, "--port", str(port), "--workers", "0",
        cwd=tmp_path, log_path=tmp_path / "serve.log",
    )  # fmt: skip
    try:
        wait_healthy(server, port)

        client_id, client_secret = Mastodon.create_app(
            "fedisora-test", api_base_url=base, scopes=SCOPES,
            redirect_uris=[OOB, "http://127.0.0.1:9/callback"],
        )  # fmt: skip
        assert client_id and client_secret

        def api() -> Mastodon:
            return Mastodon(
                client_id=client_id, client_secret=client_secret, api_base_url=base,
                version_check_mode="none",
            )  # fmt: skip

        # The password grant (toot's login_cli uses it too); Mastodon.py sends the e-mail address.
        by_password = api()
        token = by_password.log_in(EMAIL, PASSWORD, scopes=SCOPES, allow_http=True)
        assert token
        assert by_password.app_verify_credentials()["name"] == "fedisora-test"
        with pytest.raises(MastodonIllegalArgumentError, match="invalid_grant"):
            api().log_in(EMAIL, "not the password", scopes=SCOPES, allow_http=True)

        # The authorization-code flow, code shown on the page (out of band).
        by_code = api()
        url = by_code.auth_request_url(
            redirect_uris=OOB, scopes=SCOPES, state="s-1", allow_http=True
        )
        assert url.startswith(f"{base}/oauth/authorize?")
        shown_page = fill_in_form(url, "alice", PASSWORD)
        assert shown_page.status_code == 200, shown_page.text
        code = inputs(shown_page.text).fields["code"]
        token = by_code.log_in(code=code, redirect_uri=OOB, scopes=SCOPES, allow_http=True)
        assert token
        assert by_code.app_verify_credentials()["name"] == "fedisora-test"

        # The same code again (RFC 6749 §4.1.2): refused, and the token it gave is revoked.
        reused = fill_in_form(url, "alice", PASSWORD)
        reused_code = inputs(reused.text).fields["code"]
        first = api()
        first.log_in(code=reused_code, redirect_uri=OOB, scopes=SCOPES, allow_http=True)
        assert first.app_verify_credentials()["name"] == "fedisora-test"
        with pytest.raises(MastodonIllegalArgumentError, match="invalid_grant"):
            api().log_in(code=reused_code, redirect_uri=OOB, scopes=SCOPES, allow_http=True)
        with pytest.raises(MastodonUnauthorizedError):
            first.app_verify_credentials()

        # ... and with a redirect back to the app.
        by_redirect = api()
        callback = "http://127.0.0.1:9/callback"
        url = by_redirect.auth_request_url(
            redirect_uris=callback, scopes=SCOPES, state="s-2", allow_http=True
        )
        redirected = fill_in_form(url, EMAIL, PASSWORD)
        assert redirected.status_code == 302, redirected.text
        location = redirected.headers["location"]
        assert location.startswith(callback + "?")
        query = parse_qs(urlsplit(location).query)
        assert query["state"] == ["s-2"]
        token = by_redirect.log_in(
            code=query["code"][0], redirect_uri=callback, scopes=SCOPES, allow_http=True
        )
        assert by_redirect.app_verify_credentials()["name"] == "fedisora-test"

        # Revoking logs the app out.
        by_redirect.revoke_access_token(allow_http=True)
        stale = Mastodon(access_token=token, api_base_url=base, version_check_mode="none")
        with pytest.raises(MastodonUnauthorizedError):
            stale.app_verify_credentials()
        assert by_code.app_verify_credentials()["name"] == "fedisora-test"  # others still work

        log = server.log()
        assert "Traceback" not in log and "ERROR" not in log, log
    finally:
        stop(server)


async def test_mastodon_py_hits_the_sign_in_limits(tmp_path: Path, database_url: str) -> None:
    """Password guessing through Mastodon.py against ``fedisora serve``: the 26th attempt from an
    address is answered 429 (Mastodon.py's "Hit rate limit"), a right password too, and the
    account's limit holds when the guesses come from other addresses.  The addresses are set
    with ``X-Forwarded-For``, which the server trusts from a proxy on 127.0.0.1 only."""
    import requests
    from mastodon.errors import MastodonIllegalArgumentError as Refused

    port, config_path = dev_instance(tmp_path, database_url, ["alice", "bob"])
    base = f"http://localhost:{port}"
    server = start(
        "serve", "--config", config_path, "--port", str(port), "--workers", "0",
        cwd=tmp_path, log_path=tmp_path / "serve.log",
    )  # fmt: skip
    try:
        wait_healthy(server, port)
        client_id, client_secret = Mastodon.create_app(
            "fedisora-test", api_base_url=base, scopes=["read"], redirect_uris=OOB
        )

        def from_address(address: str) -> Mastodon:
            session = requests.Session()
            session.headers["X-Forwarded-For"] = address
            return Mastodon(
                client_id=client_id, client_secret=client_secret, api_base_url=base,
                version_check_mode="none", ratelimit_method="throw", session=session,
            )  # fmt: skip

        for i in range(25):
            with pytest.raises(Refused, match="invalid_grant"):
                from_address("203.0.113.1").log_in(f"user{i}@example.com", "guess", scopes=["read"], allow_http=True)
        with pytest.raises(Refused, match="Hit rate limit"):
            from_address("203.0.113.1").log_in("alice@example.com", PASSWORD, scopes=["read"], allow_http=True)
        assert from_address("203.0.113.2").log_in("alice@example.com", PASSWORD, scopes=["read"], allow_http=True)

        for i in range(24):  # with the sign-in above, 25 attempts for alice's address
            with pytest.raises(Refused, match="invalid_grant"):
                from_address(f"198.51.100.{i}").log_in("alice@example.com", "guess", scopes=["read"], allow_http=True)
        with pytest.raises(Refused, match="Hit rate limit"):
            from_address("198.51.100.99").log_in("alice@example.com", PASSWORD, scopes=["read"], allow_http=True)
        assert from_address("198.51.100.99").log_in("bob@example.com", PASSWORD, scopes=["read"], allow_http=True)

        refused = httpx.post(f"{base}/oauth/token", headers={"X-Forwarded-For": "198.51.100.99"}, data={
            "grant_type": "password", "username": "alice@example.com", "password": PASSWORD,
            "client_id": client_id, "client_secret": client_secret,
        })  # fmt: skip
        assert refused.status_code == 429 and refused.json() == {"error": "Too many requests"}
        assert 0 < int(refused.headers["retry-after"]) <= 3600

        log = server.log()
        assert "Traceback" not in log and "ERROR" not in log, log
    finally:
        stop(server)
