"""User Markdown is rendered and sanitized: nothing a user typed runs as script.

Each payload goes through both layers on their own — ``render_markdown`` (what notes show) and
``sanitize_html`` (the allow-list, in case raw HTML ever reaches it) — and the output is parsed
as a browser would, so the check is on real elements and attributes, not on substrings (text
such as ``&lt;script&gt;`` shown to the reader is harmless and allowed)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from markupsafe import Markup

from app.services.markdown import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    LINK_REL,
    render_markdown,
    sanitize_html,
)

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=x OnErRoR=alert(1)>",
    '<img src="javascript:alert(1)">',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="&#x6A;avascript&colon;alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    '<p style="background:url(javascript:alert(1))">x</p>',
    '<div style="width: expression(alert(1))">x</div>',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<iframe src="https://evil.example"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<form action="javascript:alert(1)"><button>go</button></form>',
    '<form><button formaction="javascript:alert(1)">go</button></form>',
    '<input autofocus onfocus=alert(1)>',
    '<details open ontoggle=alert(1)>',
    '<a hx-get="/logout" hx-trigger="load">x</a>',
    '<div hx-on:click="alert(1)">x</div>',
    '<div hx-on::load="alert(1)" data-hx-post="/x">x</div>',
    '<a data-x="1" data-hx-get="/x" href="https://ok.example">x</a>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    "<body onload=alert(1)>",
    "<<script>alert(1)//<</script>",
    "<img src=x onerror=alert(1)//",
    '<a href="https://ok.example" onclick="alert(1)" onmouseover=alert(1)>x</a>',
    "<!--<script>alert(1)</script>-->",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    "<template><script>alert(1)</script></template>",
    "[x](javascript:alert(1))",
    "[x](JAVASCRIPT:alert(1))",
    "[x](javascript&#58;alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    '[x](https://ok.example "title" onclick=alert(1))',
    "[x][ref]\n\n[ref]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "<vbscript:msgbox(1)>",
    "<div>\n<script>alert(1)</script>\n</div>",
    "<details>\n\n<img src=x onerror=alert(1)>\n\n</details>",
    "```\n</code></pre><script>alert(1)</script>\n```",
    "`<script>alert(1)</script>`",
]

BAD_SCHEMES = ("javascript:", "vbscript:", "data:", "file:")


class Collector(HTMLParser):
    """Collect every start tag with its attributes, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def elements(html: str) -> list[tuple[str, dict]]:
    parser = Collector()
    parser.feed(html)
    parser.close()
    return parser.tags


def assert_safe(html: str) -> None:
    for tag, attrs in elements(html):
        assert tag in ALLOWED_TAGS, (tag, html)
        allowed = ALLOWED_ATTRIBUTES.get(tag, set()) | ({"rel"} if tag == "a" else set())
        assert set(attrs) <= allowed, (tag, attrs, html)
        for name in ("href", "src"):
            value = "".join((attrs.get(name) or "").split()).lower()
            assert not value.startswith(BAD_SCHEMES), (tag, attrs, html)
        if tag == "a" and "href" in attrs:
            assert attrs.get("rel") == LINK_REL


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_rendered_markdown_is_safe(payload):
    assert_safe(str(render_markdown(payload)))


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_sanitizer_alone_is_safe(payload):
    assert_safe(sanitize_html(payload))


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_payload_inside_a_normal_note_is_safe(payload):
    assert_safe(str(render_markdown(f"# Spike\n\nSome text {payload} more *text*.\n\n{payload}")))


def test_corpus_is_large_enough():
    assert len(XSS_PAYLOADS) >= 25


def test_raw_html_is_shown_as_text():
    html = str(render_markdown("<b>bold?</b> <script>alert(1)</script>"))
    assert "&lt;script&gt;" in html and "<script" not in html and "<b>" not in html


def test_normal_markdown_renders():
    text = (
        "# Orders spike\n\n## Findings\n\n"
        "- fast to start\n- **admin** for free\n\n"
        "1. models\n2. API\n\n"
        "Use `select_related` here:\n\n```python\nOrder.objects.all()\n```\n\n"
        "| task | hours |\n|---|---:|\n| API | 7 |\n\n"
        "> a quote\n\n~~dropped~~ and [docs](https://docs.djangoproject.com/) and "
        "<https://www.django-rest-framework.org/> and ![diagram](https://example.com/d.png)\n"
    )
    tags = [tag for tag, _ in elements(str(render_markdown(text)))]
    for tag in ("h1", "h2", "ul", "ol", "li", "strong", "code", "pre", "table", "th", "td",
                "blockquote", "s", "a", "img"):
        assert tag in tags, tag
    html = str(render_markdown(text))
    assert ('<a href="https://docs.djangoproject.com/" rel="noopener noreferrer nofollow">docs</a>'
            in html)
    assert 'href="https://www.django-rest-framework.org/"' in html
    assert '<img src="https://example.com/d.png" alt="diagram">' in html


def test_links_keep_http_https_mailto_and_relative():
    html = str(render_markdown("[a](http://x.example) [b](https://x.example) "
                               "[c](mailto:team@example.com) [d](/reviews/1#note-2)"))
    hrefs = [attrs["href"] for tag, attrs in elements(html) if tag == "a"]
    assert hrefs == ["http://x.example", "https://x.example", "mailto:team@example.com",
                     "/reviews/1#note-2"]


def test_result_is_markup_and_empty_is_empty():
    assert isinstance(render_markdown("x"), Markup)
    assert render_markdown(None) == "" and render_markdown("") == ""
