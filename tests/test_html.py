"""Remote HTML is sanitized; local text renders to Mastodon-shaped HTML."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from fedisora.html import find_hashtags, find_mentions, html_to_text, render_text, sanitize_html


def test_sanitize_keeps_mastodon_markup_and_drops_the_dangerous() -> None:
    dirty = (
        '<p onclick="steal()">Hi <script>alert(1)</script><a href="javascript:alert(1)">x</a> '
        '<span class="h-card"><a href="https://m.example/@a" class="u-url mention evil">@a</a></span>'
        '<img src="https://t.example/pixel.gif"><iframe src="https://x"></iframe>'
        '<a href="https://m.example/tags/v" class="mention hashtag" rel="tag">#v</a></p>'
    )
    clean = sanitize_html(dirty)
    assert "script" not in clean and "onclick" not in clean and "javascript:" not in clean
    assert "<img" not in clean and "<iframe" not in clean
    assert '<span class="h-card">' in clean
    assert 'class="u-url mention"' in clean  # unknown class "evil" dropped
    assert 'href="https://m.example/@a"' in clean
    assert 'rel="nofollow noopener noreferrer"' in clean


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/=\"' abcdefghijklmnopqrstuvwxyz:;()&#")), max_size=200))
def test_sanitized_output_has_no_active_content(fragment: str) -> None:
    clean = sanitize_html(fragment).lower()
    assert "<script" not in clean
    assert not re.search(r"<[^>]*\son\w+\s*=", clean)
    assert "javascript:" not in re.sub(r">[^<]*<", "><", clean)  # only in text, never in attributes


def test_render_text_makes_paragraphs_links_mentions_and_tags() -> None:
    html = render_text(
        "Hello @bob and @carol@example.social <3\n#Video https://x.org/a?b=1&c=2.\n\nbye",
        mention_url=lambda user, domain: f"https://{domain or 'here.example'}/@{user}",
        tag_url=lambda tag: f"https://here.example/tags/{tag}",
    )
    assert html.startswith("<p>Hello ") and html.endswith("<p>bye</p>")
    assert '<a href="https://here.example/@bob" class="u-url mention">@<span>bob</span></a>' in html
    assert 'href="https://example.social/@carol"' in html
    assert "&lt;3<br>" in html
    assert '<a href="https://here.example/tags/video" class="mention hashtag" rel="tag">#<span>Video</span></a>' in html
    assert '<a href="https://x.org/a?b=1&amp;c=2" rel="nofollow noopener noreferrer" target="_blank">' in html
    assert "c=2</a>.</p>" in html  # trailing punctuation is not part of the link


def test_unknown_mentions_stay_text() -> None:
    assert render_text("hi @nobody") == "<p>hi @nobody</p>"


def test_find_mentions_and_hashtags() -> None:
    text = "@a and @B@X.org, mail me@mail.org, @c@h.example:8000 #One #two #1 x#no"
    assert find_mentions(text) == [("a", None), ("B", "x.org"), ("c", "h.example:8000")]
    assert find_hashtags(text) == ["one", "two"]


def test_html_to_text() -> None:
    assert html_to_text("<p>a &amp; b<br>c</p><p>d &lt;3</p>") == "a & b\nc\n\nd <3"
