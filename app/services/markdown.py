"""User Markdown → safe HTML: nothing a user typed runs as script.

Two layers, so that one mistake is not enough. markdown-it renders CommonMark (plus tables and
strikethrough) with raw HTML switched off, so ``<script>`` in a note is shown as text; then nh3
(ammonia) cleans the result against an allow-list: only the tags Markdown produces, only
``href``/``src``/``alt``/``title`` attributes, only http(s)/mailto URLs (relative ones pass),
no event handlers, no ``style``, no ``hx-*`` or ``data-*`` (htmx would act on those), and every
link gets ``rel="noopener noreferrer nofollow"``.
"""

from __future__ import annotations

import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

ALLOWED_TAGS = frozenset({
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "img", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead", "tr",
    "ul",
})
ALLOWED_ATTRIBUTES = {
    "a": frozenset({"href", "title"}),
    "img": frozenset({"src", "alt", "title"}),
    "ol": frozenset({"start"}),
}
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"

_markdown = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    clean_content_tags=frozenset({"script", "style"}),
    attributes=ALLOWED_ATTRIBUTES,
    url_schemes=ALLOWED_URL_SCHEMES,
    link_rel=LINK_REL,
    strip_comments=True,
)


def sanitize_html(html: str) -> str:
    """Clean any HTML fragment against the allow-list above."""
    return _cleaner.clean(html)


@lru_cache(maxsize=256)
def _render(text: str) -> str:
    return sanitize_html(_markdown.render(text))


def md_text(text) -> str:
    """User text written into a Markdown *export* (MADR record, matrix): its Markdown stays,
    but raw HTML cannot start — "<" becomes "&lt;". Renderers that pass raw HTML through
    (docs sites, wikis) would otherwise run a typed <script> or <img onerror>."""
    return str(text or "").strip().replace("<", "&lt;")


def md_plain(text) -> str:
    """A name or title in a Markdown export: one line, shown literally — no raw HTML and no
    link or image syntax (backslashes and brackets are escaped)."""
    line = " ".join(str(text or "").split())
    return re.sub(r"([\\\[\]])", r"\\\1", line).replace("<", "&lt;")


def render_markdown(text: str | None) -> Markup:
    """Markdown → sanitized HTML, marked safe for Jinja. Cached: a live region re-renders the
    same notes for every viewer on every refresh."""
    return Markup(_render(text or ""))
