"""The one HTML layout every page shares.  Callers pass already-escaped HTML bodies."""

from __future__ import annotations

from html import escape

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;
line-height:1.5;color:#1d1d22;background:#fafafa}
h1{margin-bottom:.2rem}.muted{color:#666}dl{display:grid;grid-template-columns:max-content auto;
gap:.3rem 1rem}dt{font-weight:600}code{background:#eee;padding:0 .2rem;border-radius:3px}
"""


def page(title: str, body: str, *, lang: str = "en") -> str:
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )
