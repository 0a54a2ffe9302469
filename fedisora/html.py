"""HTML in posts and profiles: sanitizing what peers send, rendering what people type.

Remote HTML is untrusted.  We keep the small set of elements Mastodon keeps
(paragraphs, line breaks, links, mentions and hashtags as spans/links, basic
emphasis, lists, quotes, code), drop everything else, and force safe link
attributes.  Local posts are plain text turned into the same HTML shape
Mastodon produces, so every client renders them alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape

import nh3

ALLOWED_TAGS = {
    "p", "br", "span", "a", "del", "s", "pre", "code", "em", "strong", "b", "i", "u",
    "ul", "ol", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "sup", "sub",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "class", "title", "translate"},
    "span": {"class", "translate"},
    "ol": {"start", "reversed"},
    "li": {"value"},
}
URL_SCHEMES = {"http", "https", "dat", "dweb", "ipfs", "ipns", "ssb", "gopher", "xmpp", "magnet",
               "gemini"}
# Classes with meaning to clients (microformats and Mastodon's own); others are dropped.
ALLOWED_CLASS = re.compile(r"^(h-\S*|p-\S*|u-\S*|dt-\S*|e-\S*|mention|hashtag|ellipsis|invisible)$")
MAX_HTML_CHARS = 100_000


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "class":
        kept = " ".join(c for c in value.split() if ALLOWED_CLASS.match(c))
        return kept or None
    return value


def sanitize_html(html: str) -> str:
    """Untrusted HTML from a peer → HTML safe to store and show."""
    return nh3.clean(
        html[:MAX_HTML_CHARS],
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        attribute_filter=_filter_attribute,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


def html_to_text(html: str) -> str:
    """A plain-text reading of post HTML (for notifications, previews, search)."""
    html = re.sub(r"<br\s*/?>", "\n", html, flags=re.IGNORECASE)
    html = re.sub(r"</p>\s*<p[^>]*>", "\n\n", html, flags=re.IGNORECASE)
    text = nh3.clean(html, tags=set())
    return (
        text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
        .replace("&#39;", "'").replace("&amp;", "&").strip()
    )


# ---- rendering local plain text ---------------------------------------------------------

_URL = r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]"
_USER = r"[a-zA-Z0-9_](?:[a-zA-Z0-9_.-]*[a-zA-Z0-9_])?"
_HOST = r"[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::\d+)?"
_MENTION = rf"(?<![\w/@])@(?P<muser>{_USER})(?:@(?P<mhost>{_HOST}))?"
_TAG = r"(?<![\w/&#])#(?P<tag>\w*[^\W\d_]\w*)"
URL_RE = re.compile(_URL)
MENTION_RE = re.compile(_MENTION)
HASHTAG_RE = re.compile(_TAG)
TOKEN_RE = re.compile(rf"(?P<url>{_URL})|(?P<mention>{_MENTION})|{_TAG}")

def find_mentions(text: str) -> list[tuple[str, str | None]]:
    """``(username, domain or None)`` for each ``@user`` / ``@user@domain`` in plain text."""
    seen: list[tuple[str, str | None]] = []
    for match in MENTION_RE.finditer(text):
        host = match.group("mhost")
        found = (match.group("muser"), host.lower() if host else None)
        if found not in seen:
            seen.append(found)
    return seen


def find_hashtags(text: str) -> list[str]:
    return list(dict.fromkeys(m.group("tag").lower() for m in HASHTAG_RE.finditer(text)))


def render_text(
    text: str,
    *,
    mention_url: Callable[[str, str | None], str | None] = lambda user, domain: None,
    tag_url: Callable[[str], str] | None = None,
) -> str:
    """Plain text → Mastodon-shaped HTML: paragraphs, ``<br>``, links, mentions, hashtags.

    ``mention_url(username, domain)`` returns the profile URL of a mentioned
    actor we know (unknown mentions stay plain text).
    """

    def render_inline(line: str) -> str:
        out: list[str] = []
        pos = 0
        for match in TOKEN_RE.finditer(line):
            out.append(escape(line[pos : match.start()]))
            pos = match.end()
            whole = match.group(0)
            if match.group("url"):
                href = escape(whole)
                out.append(f'<a href="{href}" rel="nofollow noopener noreferrer" target="_blank">{href}</a>')
            elif match.group("mention"):
                username, domain = match.group("muser"), match.group("mhost")
                url = mention_url(username, domain.lower() if domain else None)
                if url:
                    out.append(
                        f'<span class="h-card" translate="no"><a href="{escape(url)}" '
                        f'class="u-url mention">@<span>{escape(username)}</span></a></span>'
                    )
                else:
                    out.append(escape(whole))
            else:
                tag = match.group("tag")
                if tag_url:
                    out.append(
                        f'<a href="{escape(tag_url(tag.lower()))}" class="mention hashtag" '
                        f'rel="tag">#<span>{escape(tag)}</span></a>'
                    )
                else:
                    out.append(escape(whole))
        out.append(escape(line[pos:]))
        return "".join(out)

    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip().replace("\r\n", "\n")) if p.strip()]
    return "".join(
        "<p>" + "<br>".join(render_inline(line) for line in para.split("\n")) + "</p>"
        for para in paragraphs
    )
