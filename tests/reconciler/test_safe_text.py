"""safe_text: escaping, spreadsheet and Markdown neutralising, URL redaction, input checks."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from markdown_it import MarkdownIt

from reconciler.safe_text import (
    csv_cell,
    escape,
    excerpt,
    md_code,
    md_text,
    printable,
)
from registry.errors import InvalidText
from registry.redact import redact_url, redact_urls

CONTROL_CATEGORIES = ("Cc", "Cf", "Cs", "Zl", "Zp")


def test_every_control_character_is_escaped():
    controls = [
        chr(c)
        for c in range(sys.maxunicode + 1)
        if unicodedata.category(chr(c)) in CONTROL_CATEGORIES
    ]
    escaped = escape("".join(controls))
    assert escaped.isprintable() and escaped.isascii()
    assert escaped.count("\\") == len(controls)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b]0;TITLE\x07\x1b[2J", "\\x1b]0;TITLE\\x07\\x1b[2J"),
        ("evil\rroot", "evil\\rroot"),
        ("a\nb\tc", "a\\nb\\tc"),
        ("\x9b31m", "\\x9b31m"),  # C1 CSI
        ("\x7f", "\\x7f"),
        ("admin\u202egnp.exe", "admin\\u202egnp.exe"),
        ("\u2066x\u2069\u200b\ufeff", "\\u2066x\\u2069\\u200b\\ufeff"),
        ("\udcff", "\\udcff"),  # a non-UTF-8 byte as os.fsdecode gives it
        ("\U000e0041", "\\U000e0041"),  # a tag character
        ("llama-2-7b ünïcødé 模型 🦙", "llama-2-7b ünïcødé 模型 🦙"),
        (None, ""),
        (42, "42"),
    ],
)
def test_escape(raw, shown):
    assert escape(raw) == shown


def test_escape_is_idempotent_and_can_keep_newlines():
    once = escape("a\x1bb\nc")
    assert escape(once) == once
    assert escape("line\x1b\nnext\r", keep_newlines=True) == "line\\x1b\nnext\\r"


def test_excerpt_is_short_escaped_and_without_credentials():
    secret = "DATABASE_URL=postgresql://registry:S3cr3tPassw0rd@db.internal:5432/registry"
    shown = excerpt(secret)
    assert "S3cr3t" not in shown and len(shown) <= 43
    assert shown.startswith("'DATABASE_URL=postgresql://db.internal") and shown.endswith("…'")
    assert excerpt("a\x1bb") == "'a\\x1bb'"
    assert excerpt(8000.0) == "8000.0"
    assert excerpt("x" * 1000, 10) == "'xxxxxxxxxx…'"


@pytest.mark.parametrize(
    ("raw", "cell"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("=cmd|x.svc.cluster.local:80", "'=cmd|x.svc.cluster.local:80"),
        ("+1+cmd|x", "'+1+cmd|x"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\\t=1"),
        ("\r=1", "'\\r=1"),
        ("llama-2-7b", "llama-2-7b"),
        ("a=b", "a=b"),
        (None, ""),
        (7, "7"),
    ],
)
def test_csv_cell_neutralises_formulas(raw, cell):
    assert csv_cell(raw) == cell


def render(markdown: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(markdown)


HOSTILE_MARKDOWN = [
    "a`b",
    "``double``",
    "`",
    "x` [click](https://evil.example) `",
    "![img](https://evil.example/p.png)",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "a|b",
    "line\nbreak",
]


@pytest.mark.parametrize("value", HOSTILE_MARKDOWN)
def test_md_code_cannot_be_left(value):
    html = render(f"| Model |\n|---|\n| {md_code(value)} |\n")
    assert "<a " not in html and "<img" not in html and "<script" not in html
    cell = html.split("<td>")[1].split("</td>")[0]
    assert cell.startswith("<code>") and cell.endswith("</code>"), html
    assert cell.count("<code>") == 1


@pytest.mark.parametrize("value", HOSTILE_MARKDOWN)
def test_md_text_is_literal(value):
    html = render(f"> {md_text(value)}\n")
    assert "<a " not in html and "<img" not in html and "<script" not in html
    assert "<code>" not in html


def test_md_code_keeps_the_value_readable():
    assert md_code("llama-2-7b") == "`llama-2-7b`"
    assert md_code("a`b") == "``a`b``"
    assert render(md_code("a`b")) == "<p><code>a`b</code></p>\n"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://admin:PW@host:6443", "https://host:6443"),
        ("https://admin@host/", "https://host/"),
        ("https://host/api?token=abc&watch=1", "https://host/api?token=REDACTED&watch=1"),
        ("https://h/?access_token=a&X-Amz-Signature=b&sig=c", None),
        ("https://h/?password=a&client_secret=b&api_key=c&auth=d", None),
        ("https://host:6443", "https://host:6443"),
        ("https://admin:PW@host:٨٠/", "https://host:٨٠/"),  # shown as it is, but no userinfo
        ("https://admin:PW@[::1/", "<unparsable URL>"),
    ],
)
def test_redact_url(url, shown):
    redacted = redact_url(url)
    if shown is not None:
        assert redacted == shown
    for secret in ("PW", "abc", "=a", "=b", "=c", "=d", "admin"):
        assert secret not in redacted


def test_redact_urls_in_text():
    text = "the cluster (https://admin:PW@host:6443) and https://h/x?token=T0K. Check it"
    assert redact_urls(text) == (
        "the cluster (https://host:6443) and https://h/x?token=REDACTED. Check it"
    )
    assert redact_urls("no url here") == "no url here"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("evil\rroot", "contains the control character \\r"),
        ("\x1b]0;TITLE\x07", "contains the control character \\x1b"),
        ("me\u202e", "contains the control character \\u202e"),
        ("caf\udce9", "is not valid UTF-8"),
        ("x" * 129, "is 129 characters long, over the limit of 128"),
        ("  ", "is empty"),
    ],
)
def test_printable_refuses(value, problem):
    with pytest.raises(InvalidText) as raised:
        printable(value, "--actor", limit=128, advice="pass another")
    message = str(raised.value)
    assert message.startswith("--actor '") and f"{problem}: pass another" in message
    assert message.isprintable()


def test_printable_accepts_names():
    assert printable("Jane Doe (ops)", "--actor", limit=128, advice="") == "Jane Doe (ops)"
    assert printable("jürgen", "--actor", limit=128, advice="") == "jürgen"
