"""Sign-in limits (password guessing): 25 attempts per 5 minutes per client address and 25 per
hour per account name, on ``POST /oauth/token`` (password grant) and the authorize form, in
process on SQLite and PostgreSQL, with the clock injected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from fedisora.accounts.service import create_account, ensure_instance_actor
from fedisora.app import create_app
from fedisora.counters import FixedWindow, MemoryCounterStore, address_key
from fedisora.oauth.login_limits import DEVICE_COOKIE, LoginLimits, TooManyAttempts, account_key
from fedisora.state import AppState
from tests.test_oauth import BASE, CALLBACK, PASSWORD, authorize_params, make_config, parse_form

START = 1_800_000_000.0  # a multiple of 3600: an hour window and a five-minute window begin here


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# ---- the counters (no database) ---------------------------------------------------------------


async def test_fixed_window_counts_and_forgets() -> None:
    clock = Clock(START + 100)
    window = FixedWindow("t", limit=2, period=300, clock=clock)
    assert [(await window.hit("a")).limited for _ in range(3)] == [False, False, True]
    hit = await window.peek("a")
    assert (hit.count, hit.remaining, hit.reset, hit.retry_after) == (3, 0, START + 300, 200)
    assert (await window.hit("b")).count == 1  # keys apart
    clock.now = START + 300
    assert (await window.hit("a")).count == 1  # the next window starts afresh


async def test_counters_of_one_store_are_kept_apart_by_name() -> None:
    store, clock = MemoryCounterStore(), Clock(START)
    short = FixedWindow("short", limit=1, period=300, store=store, clock=clock)
    long = FixedWindow("long", limit=1, period=3600, store=store, clock=clock)
    await short.hit("k")
    await long.hit("k")
    clock.now += 300
    assert (await short.peek("k")).count == 0
    assert (await long.peek("k")).count == 1


def test_address_keys() -> None:
    assert address_key("203.0.113.7") == "203.0.113.7"
    assert address_key("2001:db8:1:2:3:4:5:6") == address_key("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert address_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_key(None) == "unknown"


def test_account_names_are_normalised_and_not_kept() -> None:
    assert account_key("alice") == account_key(" @ALICE ") == account_key("Alice")
    assert account_key("alice") != account_key("alice@example.com")
    assert "alice" not in account_key("alice")


async def test_limits_in_order() -> None:
    clock = Clock(START)
    limits = LoginLimits(clock=clock, address_limit=3, account_limit=2)
    await limits.attempt("198.51.100.1", "alice")
    await limits.attempt("198.51.100.2", "alice")
    with pytest.raises(TooManyAttempts) as refused:
        await limits.attempt("198.51.100.3", "alice")  # the account, from a third address
    assert (refused.value.hit.limit, refused.value.hit.period) == (2, 3600)
    assert refused.value.message == "Too many sign-in attempts. Try again in 60 minutes."
    await limits.attempt("198.51.100.3", "alice", device="cookie")  # its owner's browser
    await limits.attempt("198.51.100.3", "bob")
    with pytest.raises(TooManyAttempts) as by_address:
        await limits.attempt("198.51.100.3", "carol")  # 4th from that address
    assert (by_address.value.hit.limit, by_address.value.hit.period) == (3, 300)
    assert (await limits.by_account.peek(account_key("carol"))).count == 0  # not counted
    clock.now += 3600
    await limits.attempt("198.51.100.3", "alice")


# ---- over HTTP --------------------------------------------------------------------------------


@dataclass
class Site:
    app: Starlette
    clock: Clock
    client_id: str
    client_secret: str

    def client(self, address: str) -> httpx.AsyncClient:
        """A client (a browser, with its cookies) connecting from ``address``."""
        transport = httpx.ASGITransport(app=self.app, client=(address, 40000), raise_app_exceptions=False)
        return httpx.AsyncClient(transport=transport, base_url=BASE)

    async def password_grant(self, address: str, username: str, password: str, **headers: str) -> httpx.Response:
        async with self.client(address) as client:
            return await client.post("/oauth/token", headers=headers, data={
                "grant_type": "password", "username": username, "password": password,
                "client_id": self.client_id, "client_secret": self.client_secret, "scope": "read",
            })  # fmt: skip


@pytest.fixture
async def site(tmp_path: Path, migrated_url: str) -> AsyncIterator[Site]:
    config = make_config(tmp_path, migrated_url)
    state = AppState.open(config)
    try:
        async with state.sessions() as session:
            await ensure_instance_actor(session, config)
            await create_account(session, config, "alice", email="alice@example.com", password=PASSWORD)
            await create_account(session, config, "bob", email="bob@example.com", password=PASSWORD)
            await session.commit()
    finally:
        await state.close()
    app = create_app(config, run_workers=False)
    async with app.router.lifespan_context(app):
        clock = Clock(START)
        app.state.fedisora.login_limits.clock = clock
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            registered = await client.post("/api/v1/apps", data={
                "client_name": "Guesser", "redirect_uris": CALLBACK, "scopes": "read write",
            })  # fmt: skip
        assert registered.status_code == 200, registered.text
        body = registered.json()
        yield Site(app, clock, body["client_id"], body["client_secret"])


def assert_too_many(response: httpx.Response, retry_after: int, limit: int = 25) -> None:
    assert response.status_code == 429, response.text
    assert response.json() == {"error": "Too many requests"}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["retry-after"] == str(retry_after)
    assert response.headers["x-ratelimit-limit"] == str(limit)
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert response.headers["cache-control"] == "no-store"


async def test_password_grant_is_limited_per_address(site: Site) -> None:
    site.clock.now = START + 60
    for i in range(25):  # different names, so that only the address limit can refuse
        wrong = await site.password_grant("203.0.113.9", f"user{i}", "not the password")
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant", (i, wrong.text)
    # the 26th attempt is refused, even with the right password, before it is checked
    assert_too_many(await site.password_grant("203.0.113.9", "alice", PASSWORD), retry_after=240)
    # an X-Forwarded-For the app does not trust (in process there is no proxy) changes nothing
    spoofed = await site.password_grant("203.0.113.9", "alice", PASSWORD, **{"X-Forwarded-For": "192.0.2.1"})
    assert spoofed.status_code == 429
    # another address is not limited, nor is alice's account (the refused tries did not count)
    assert (await site.password_grant("203.0.113.10", "alice", PASSWORD)).status_code == 200
    # the window passes
    site.clock.now = START + 300
    assert (await site.password_grant("203.0.113.9", "alice", PASSWORD)).status_code == 200


async def test_password_grant_is_limited_per_account_across_addresses(site: Site) -> None:
    names = ["alice", "ALICE", "@alice", " Alice "]  # one account name, however it is typed
    for i in range(25):
        wrong = await site.password_grant(f"198.51.100.{i}", names[i % 4], "not the password")
        assert wrong.status_code == 400, (i, wrong.text)
    right = await site.password_grant("198.51.100.200", "alice", PASSWORD)
    assert_too_many(right, retry_after=3600)
    assert (await site.password_grant("198.51.100.200", "bob", PASSWORD)).status_code == 200

    # a name without an account is limited exactly the same way: nothing tells them apart
    for i in range(25):
        wrong = await site.password_grant(f"192.0.2.{i}", "nobody", "not the password")
        assert wrong.status_code == 400, (i, wrong.text)
    nobody = await site.password_grant("192.0.2.200", "nobody", PASSWORD)
    assert nobody.status_code == right.status_code and nobody.content == right.content
    assert nobody.headers["retry-after"] == right.headers["retry-after"]

    # an hour on, alice can sign in again
    site.clock.now = START + 3600
    assert (await site.password_grant("198.51.100.200", "alice", PASSWORD)).status_code == 200


async def fill_in(browser: httpx.AsyncClient, site: Site, username: str, password: str) -> httpx.Response:
    params = authorize_params({"client_id": site.client_id}, scope="read")
    page = await browser.get("/oauth/authorize", params=params)
    assert page.status_code == 200, page.text
    fields = {**parse_form(page.text).inputs, "username": username, "password": password, "decision": "approve"}
    return await browser.post("/oauth/authorize", data=fields)


async def test_the_form_is_limited_with_a_readable_page(site: Site) -> None:
    async with site.client("203.0.113.50") as browser:
        for i in range(25):
            wrong = await fill_in(browser, site, f"user{i}", "not the password")
            assert wrong.status_code == 401, (i, wrong.text)
        limited = await fill_in(browser, site, "alice", PASSWORD)
        assert limited.status_code == 429
        assert limited.headers["content-type"].startswith("text/html")
        assert limited.headers["retry-after"] == "300"
        assert "Too many sign-in attempts. Try again in 5 minutes." in limited.text
        assert "location" not in limited.headers
        again = parse_form(limited.text)  # the form is shown again, to try later
        assert again.inputs["username"] == "alice" and again.inputs["form_token"]
        # the form and the token endpoint share the address's budget
        assert (await site.password_grant("203.0.113.50", "bob", PASSWORD)).status_code == 429
        site.clock.now = START + 300
        assert (await fill_in(browser, site, "alice", PASSWORD)).status_code == 302


async def test_guessing_does_not_lock_out_a_browser_that_signed_in_before(site: Site) -> None:
    async with site.client("198.51.100.77") as owner:
        first = await fill_in(owner, site, "alice", PASSWORD)
        assert first.status_code == 302 and "code=" in first.headers["location"]
        assert owner.cookies.get(DEVICE_COOKIE)
        for i in range(24):  # with the owner's sign-in, alice's name has had 25 attempts
            guess = await site.password_grant(f"192.0.2.{i}", "alice", f"guess {i}")
            assert guess.status_code == 400
        async with site.client("203.0.113.1") as stranger:  # a new browser is refused ...
            refused = await fill_in(stranger, site, "alice", PASSWORD)
            assert refused.status_code == 429 and "Too many sign-in attempts" in refused.text
        assert (await site.password_grant("203.0.113.1", "alice", PASSWORD)).status_code == 429
        # ... but the owner's browser is not
        again = await fill_in(owner, site, "alice", PASSWORD)
        assert again.status_code == 302 and "code=" in again.headers["location"], again.text
        # its cookie is for that name only
        other = await fill_in(owner, site, "alice@example.com", "wrong")
        assert other.status_code == 401


async def test_a_local_name_with_another_domain_opens_nothing(site: Site) -> None:
    """``alice@video.example.org`` is alice; ``alice@<anything else>`` is no one (so that one
    account cannot be tried under endless names, each with its own budget)."""
    assert (await site.password_grant("203.0.113.60", "alice@video.example.org", PASSWORD)).status_code == 200
    for name in (f"alice@elsewhere{i}.example" for i in range(3)):
        response = await site.password_grant("203.0.113.60", name, PASSWORD)
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_a_malformed_known_device_cookie_is_no_cookie(site: Site) -> None:
    """A forged cookie whose time is not a plain number (a 5,000-digit one, a '²', which
    ``str.isdigit`` accepts and ``int`` refuses) is ignored, not a 500."""
    for cookie in ("9" * 5000 + ".ab", "\u00b2.ab", "-1.ab", "1.", "."):
        async with site.client("203.0.113.70") as browser:
            params = authorize_params({"client_id": site.client_id}, scope="read")
            page = await browser.get("/oauth/authorize", params=params)
            fields = {**parse_form(page.text).inputs, "username": "alice", "password": "wrong", "decision": "approve"}
            raw = f"{DEVICE_COOKIE}={cookie}".encode("latin-1")
            nonce = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
            response = await browser.post(
                "/oauth/authorize", data=fields, headers={"cookie": raw + b"; " + nonce.encode()}
            )
            assert response.status_code == 401, (cookie[:10], response.status_code)
            assert "Invalid username, e-mail address or password." in response.text


async def test_username_at_our_domain_shares_the_username_budget(site: Site) -> None:
    """``alice@video.example.org`` opens alice's account, so it counts against the same
    budget as ``alice``: writing the name another way buys no more guesses."""
    for i in range(25):
        name = "alice" if i % 2 else "Alice@Video.Example.Org"
        wrong = await site.password_grant(f"198.51.100.{i}", name, "not the password")
        assert wrong.status_code == 400, (i, wrong.text)
    assert_too_many(await site.password_grant("198.51.100.201", "alice", PASSWORD), retry_after=3600)
    refused = await site.password_grant("198.51.100.202", "alice@video.example.org", PASSWORD)
    assert refused.status_code == 429


async def test_a_known_device_has_a_budget_of_its_own(site: Site) -> None:
    """The known-device cookie skips the name's budget, not every limit: a browser holding
    one (the owner's, or an old one in someone else's hands after a password change) gets
    25 attempts per hour for itself, so the cookie is no way around the account limit."""
    async with site.client("198.51.100.80") as device:
        assert (await fill_in(device, site, "alice", PASSWORD)).status_code == 302
        assert device.cookies.get(DEVICE_COOKIE)
        for i in range(25):  # 25 attempts with the cookie, the last past the address's window
            site.clock.now = START + 10 * (i + 1) if i < 24 else START + 301
            wrong = await fill_in(device, site, "alice", f"guess {i}")
            assert wrong.status_code == 401, (i, wrong.text)
        limited = await fill_in(device, site, "alice", PASSWORD)
        assert limited.status_code == 429 and "Too many sign-in attempts" in limited.text
    # the name's own budget was not spent by the device: another browser may still try
    async with site.client("203.0.113.81") as other:
        assert (await fill_in(other, site, "alice", PASSWORD)).status_code == 302


async def test_a_known_device_cookie_is_for_its_name_only(site: Site) -> None:
    async with site.client("198.51.100.90") as owner:
        assert (await fill_in(owner, site, "alice", PASSWORD)).status_code == 302
        for i in range(25):  # bob's name is out of guesses
            assert (await site.password_grant(f"192.0.2.{i}", "bob", f"guess {i}")).status_code == 400
        # alice's cookie does not let this browser past bob's limit
        refused = await fill_in(owner, site, "bob", PASSWORD)
        assert refused.status_code == 429, refused.text
