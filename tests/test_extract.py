"""Tolerant accessors for incoming JSON (activitypub.extract)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activitypub.extract import (
    as_list,
    bool_of,
    datetime_of,
    dig,
    first,
    has_type,
    host_of,
    id_of,
    ids_of,
    int_of,
    links_of,
    same_origin,
    shared_inbox_of,
    str_of,
    text_of,
    types_of,
    url_of,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
# Objects that use the keys the accessors look at, so the fuzzing reaches them.
keyed = st.dictionaries(
    st.sampled_from(
        ["id", "@id", "href", "type", "@type", "url", "mediaType", "mimeType", "height", "width", "content", "contentMap"]
    ),
    json_values,
    max_size=6,
)
anything = json_values | keyed | st.lists(keyed, max_size=3)


@settings(max_examples=300)
@given(anything)
def test_accessors_never_raise(value: Any) -> None:
    as_list(value)
    first(value)
    str_of(value)
    for ident in ids_of(value):
        assert isinstance(ident, str) and ident
    ident = id_of(value)
    assert ident is None or isinstance(ident, str)
    assert all(isinstance(t, str) for t in types_of(value))
    has_type(value, "Note")
    for key in ("content", "name"):
        text = text_of(value, key, "en")
        assert text is None or isinstance(text, str)
    for link in links_of(value):
        assert isinstance(link["href"], str)
    url = url_of(value, prefer_media_type=["video/mp4", "video/"])
    assert url is None or isinstance(url, str)
    assert bool_of(value) in (True, False, None)
    number = int_of(value)
    assert number is None or (isinstance(number, int) and not isinstance(number, bool))
    when = datetime_of(value)
    assert when is None or when.tzinfo is not None
    host = host_of(value)
    assert host is None or isinstance(host, str)
    assert same_origin(value, value) in (True, False)
    dig(value, "id", "href")
    inbox = shared_inbox_of(value)
    assert inbox is None or isinstance(inbox, str)


@given(st.text())
def test_string_accessors_never_raise(text: str) -> None:
    datetime_of(text)
    host_of(text)
    same_origin(text, "https://a.example/")
    int_of(text)
    url_of(text, prefer_media_type="text/html")


def test_as_list_and_first() -> None:
    assert as_list(None) == []
    assert as_list("a") == ["a"]
    assert as_list(["a", "b"]) == ["a", "b"]
    assert as_list({"id": "x"}) == [{"id": "x"}]
    assert first([None, "b"]) == "b"
    assert first([]) is None
    assert first("a") == "a"


def test_id_of_shapes() -> None:
    assert id_of("https://a.example/1") == "https://a.example/1"
    assert id_of({"id": "https://a.example/1", "type": "Note"}) == "https://a.example/1"
    assert id_of({"type": "Link", "href": "https://a.example/2"}) == "https://a.example/2"
    assert id_of([{"type": "Person"}, "https://a.example/3"]) == "https://a.example/3"
    assert id_of({"id": 42}) is None
    assert id_of(42) is None
    assert id_of(True) is None
    assert id_of("") is None
    assert id_of({"id": ""}) is None
    assert id_of(None) is None


def test_ids_of_dedupes_and_skips_junk() -> None:
    value = ["https://a.example/1", {"id": "https://a.example/2"}, "https://a.example/1", 7, None, {"id": None}]
    assert ids_of(value) == ["https://a.example/1", "https://a.example/2"]
    assert ids_of("https://www.w3.org/ns/activitystreams#Public") == ["https://www.w3.org/ns/activitystreams#Public"]


def test_types_of_strips_activitystreams_prefixes() -> None:
    assert types_of({"type": "Note"}) == {"Note"}
    assert types_of({"type": "https://www.w3.org/ns/activitystreams#Note"}) == {"Note"}
    assert types_of({"type": "as:Note"}) == {"Note"}
    assert types_of({"@type": ["Person", "toot:Emoji"]}) == {"Person", "toot:Emoji"}
    assert types_of({"type": 3}) == set()
    assert types_of("Note") == set()
    assert has_type({"type": ["Note", "Article"]}, "Article")
    assert has_type({"type": "as:Create"}, "https://www.w3.org/ns/activitystreams#Create")
    assert not has_type({"type": "Note"}, "Question")


def test_text_of_language_maps() -> None:
    both = {"content": "<p>plain</p>", "contentMap": {"de": "<p>deutsch</p>"}}
    assert text_of(both, "content") == "<p>plain</p>"
    only_map = {"contentMap": {"de": "<p>deutsch</p>", "en-GB": "<p>english</p>"}}
    assert text_of(only_map, "content", "en-GB") == "<p>english</p>"
    assert text_of(only_map, "content", "en") == "<p>english</p>"
    assert text_of(only_map, "content", "fr") == "<p>deutsch</p>"
    assert text_of(only_map, "content") == "<p>deutsch</p>"
    assert text_of({"nameMap": {"en": "Title"}}, "name") == "Title"
    assert text_of({"summary": None, "summaryMap": {"ja": "注意"}}, "summary") == "注意"
    assert text_of({"content": 5}, "content") is None
    assert text_of({"contentMap": {"en": 5}}, "content") is None
    assert text_of({"contentMap": "oops"}, "content") is None
    assert text_of("not an object", "content") is None


# From PeerTube (peertube.stream, soapbox-pub/rebased test/fixtures/peertube/
# video-object-mpegURL-only.json): the icon list and url link shapes.
PEERTUBE_ICON = [
    {
        "type": "Image",
        "url": "https://peertube.stream/static/thumbnails/abece3c3-b9c6-47f4-8040-f3eed8c602e6.jpg",
        "mediaType": "image/jpeg",
        "width": 223,
        "height": 122,
    },
    {
        "type": "Image",
        "url": "https://peertube.stream/lazy-static/previews/abece3c3-b9c6-47f4-8040-f3eed8c602e6.jpg",
        "mediaType": "image/jpeg",
        "width": 850,
        "height": 480,
    },
]
PEERTUBE_URL = [
    {
        "type": "Link",
        "mediaType": "text/html",
        "href": "https://peertube.stream/videos/watch/abece3c3-b9c6-47f4-8040-f3eed8c602e6",
    },
    {
        "type": "Link",
        "mediaType": "application/x-mpegURL",
        "href": "https://peertube.stream/static/streaming-playlists/hls/abece3c3-b9c6-47f4-8040-f3eed8c602e6/master.m3u8",
    },
]


def test_url_of_shapes() -> None:
    assert url_of("https://a.example/v.mp4") == "https://a.example/v.mp4"
    assert url_of({"type": "Link", "href": "https://a.example/x"}) == "https://a.example/x"
    assert url_of(PEERTUBE_URL, prefer_media_type="text/html").endswith("/watch/abece3c3-b9c6-47f4-8040-f3eed8c602e6")
    assert url_of(PEERTUBE_URL, prefer_media_type="application/x-mpegURL").endswith("master.m3u8")
    assert url_of(PEERTUBE_URL, prefer_media_type="video/mp4") == PEERTUBE_URL[0]["href"]  # fallback: first
    # An icon list: the largest image wins when asked for images.
    assert url_of(PEERTUBE_ICON, prefer_media_type="image/") == PEERTUBE_ICON[1]["url"]
    assert url_of(PEERTUBE_ICON) == PEERTUBE_ICON[0]["url"]
    # Image object whose url is itself a Link (Mastodon-style icons, some Misskey forks).
    nested = {"type": "Image", "url": {"type": "Link", "href": "https://a.example/i.png", "mediaType": "image/png"}}
    assert url_of(nested, prefer_media_type="image/png") == "https://a.example/i.png"
    assert url_of([{"href": 5}, {"type": "Link"}]) is None
    assert url_of(None) is None
    assert url_of([]) is None


def test_url_of_prefers_in_order_and_ignores_params() -> None:
    links = [
        {"href": "https://a.example/a.webm", "mediaType": "video/webm"},
        {"href": "https://a.example/a.mp4", "mediaType": "video/mp4; codecs=avc1"},
    ]
    assert url_of(links, prefer_media_type=["video/mp4", "video/webm"]) == "https://a.example/a.mp4"
    assert url_of(links, prefer_media_type=("application/x-nope", "video/webm")) == "https://a.example/a.webm"


def test_links_of_reads_old_peertube_mimetype() -> None:
    [link] = links_of({"href": "https://a.example/v.mp4", "mimeType": "video/mp4", "width": 480, "type": "Link"})
    assert link["mediaType"] == "video/mp4"
    assert link["width"] == 480


def test_bool_of() -> None:
    assert bool_of(True) is True
    assert bool_of("false") is False
    assert bool_of("TRUE") is True
    assert bool_of(1) is None
    assert bool_of(None) is None
    assert bool_of("yes please") is None


def test_int_of() -> None:
    assert int_of(5) == 5
    assert int_of(5.0) == 5
    assert int_of("42") == 42
    assert int_of(" -3 ") == -3
    assert int_of(5.5) is None
    assert int_of(True) is None
    assert int_of("1e3") is None
    assert int_of(float("nan")) is None
    assert int_of(float("inf")) is None
    assert int_of("9" * 40) is None


def test_datetime_of() -> None:
    assert datetime_of("2018-02-17T17:14:26Z") == datetime(2018, 2, 17, 17, 14, 26, tzinfo=UTC)
    assert datetime_of("2022-01-21T16:38:30.243Z") == datetime(2022, 1, 21, 16, 38, 30, 243000, tzinfo=UTC)
    assert datetime_of("2023-10-30T13:07:15+00:00") == datetime(2023, 10, 30, 13, 7, 15, tzinfo=UTC)
    assert datetime_of("2023-10-30T15:07:15+02:00") == datetime(2023, 10, 30, 13, 7, 15, tzinfo=UTC)
    assert datetime_of("2023-10-30T08:07:15-0500") == datetime(2023, 10, 30, 13, 7, 15, tzinfo=UTC)
    assert datetime_of("2023-10-30T13:07:15") == datetime(2023, 10, 30, 13, 7, 15, tzinfo=UTC)
    assert datetime_of("2023-10-30T13:07:15.123456789Z") == datetime(2023, 10, 30, 13, 7, 15, 123456, tzinfo=UTC)
    for garbage in ("", "yesterday", "2023-13-01T00:00:00Z", "2023-02-30T00:00:00Z", "2023-10-30", 1698671235, None):
        assert datetime_of(garbage) is None, garbage
    assert datetime_of("2023-10-30T13:07:15+25:00") is None


def test_host_and_origin() -> None:
    assert host_of("https://Mastodon.Social/users/Gargron") == "mastodon.social"
    assert host_of("http://localhost:3000/x") == "localhost"
    assert host_of("acct:a@b.example") is None
    assert host_of("https://[::1]:8443/") == "::1"
    assert host_of("https://a.example:99999/") == "a.example"
    assert host_of(None) is None
    assert same_origin("https://a.example/users/1", "https://A.example:443/inbox")
    assert not same_origin("https://a.example/x", "http://a.example/x")
    assert not same_origin("https://a.example/x", "https://a.example.evil/x")
    assert not same_origin("https://a.example:8443/x", "https://a.example/x")
    assert not same_origin("https://a.example:99999/x", "https://a.example:99999/x")  # invalid port
    assert not same_origin("mailto:x@a.example", "mailto:x@a.example")


def test_dig_and_shared_inbox() -> None:
    actor = {"endpoints": {"sharedInbox": "https://a.example/inbox"}, "icon": [{"url": "https://a.example/i.png"}]}
    assert dig(actor, "endpoints", "sharedInbox") == "https://a.example/inbox"
    assert dig(actor, "icon", "url") == "https://a.example/i.png"
    assert dig(actor, "endpoints", "missing") is None
    assert dig(actor, "endpoints", "sharedInbox", "deeper") is None
    assert dig("x", "a") is None
    assert shared_inbox_of(actor) == "https://a.example/inbox"
    assert shared_inbox_of({"sharedInbox": "https://b.example/inbox"}) == "https://b.example/inbox"
    assert shared_inbox_of({"endpoints": "https://c.example/endpoints"}) is None
    assert shared_inbox_of({"endpoints": {"sharedInbox": 7}}) is None


@pytest.mark.parametrize(
    ("uri", "domain"),
    [
        ("https://Mastodon.Social/users/a", "mastodon.social"),
        ("https://example.org:443/x", "example.org"),
        ("http://localhost:8001/users/a", "localhost:8001"),
        ("https://example.org:8443/", "example.org:8443"),
        ("http://[::1]:8000/x", "[::1]:8000"),
        ("ftp://example.org/x", None),
        ("https://example.org:99999/", None),
        (42, None),
    ],
)
def test_domain_of_keeps_non_default_ports(uri: object, domain: str | None) -> None:
    from activitypub.extract import domain_of

    assert domain_of(uri) == domain
