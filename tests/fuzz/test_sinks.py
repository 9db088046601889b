"""Any text a candidate can write, through each sink's escape (discovery/sanitize.py): the
terminal gets no control character but newline and tab, Rich never raises on markup and shows
the text itself, matplotlib draws it without entering mathtext, and a Markdown renderer shows
it as the same text with no element of its own."""

import html
import io
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from rich.console import Console

from discovery import sanitize
from discovery.report import _pyplot

PIECES = ["[bold red]", "[/]", "[link=http://evil]", "\x1b]0;pwned\x07", "\x1b[2K", "\x1b[",
          "\x9b", "\r", "\x00", "$", "\\", "$\\frac{$", "![x](http://evil/x.png)", "<img src=x>",
          "&amp;", "`", "``", "*", "_", "|", "#", "> ", "1. ", "- ", "\n", "\t", "\u202e", "~~",
          ":smile:", "    "]
"""What each sink's syntax is made of, drawn often next to any other text."""

texts = st.lists(st.sampled_from(PIECES) | st.text(max_size=8), max_size=12).map("".join)
MARKDOWN = MarkdownIt("commonmark").enable("table")


def plain_rich(renderable) -> str:
    console = Console(file=io.StringIO(), width=10_000, color_system=None, highlight=False)
    console.print(renderable)
    return console.file.getvalue()


@given(texts)
def test_the_terminal_gets_characters_only(text):
    shown = sanitize.terminal(text)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", shown)
    assert sanitize.terminal(shown) == shown  # nothing left to strip


@given(texts)
def test_rich_shows_the_text_itself(text):
    shown = plain_rich(sanitize.text(text, style="bold"))  # no markup, emoji code or escape
    assert shown.rstrip("\n") == sanitize.terminal(text).expandtabs(8).rstrip("\n")


@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")  # any Unicode: no font has all
@given(texts)
def test_matplotlib_draws_it_literally(text):
    figure = _pyplot().figure()
    try:
        figure.suptitle(sanitize.mathtext(text))
        figure.savefig(io.BytesIO(), format="png")  # mathtext would raise on `$\frac{$`
    finally:
        _pyplot().close(figure)


@given(texts)
def test_markdown_shows_the_same_text_and_no_element(text):
    expected = " ".join(" ".join(sanitize.terminal(text).splitlines()).split())
    for prefix, element in (("x ", "p"), ("| a |\n|---|\n| x ", "td")):
        rendered = MARKDOWN.render(prefix + sanitize.markdown(text))
        inner = re.search(rf"<{element}>x ?(.*)</{element}>", rendered, re.S)
        assert inner is not None, rendered
        assert "<" not in inner[1]  # no tag: no image, link, emphasis, code, HTML
        assert " ".join(html.unescape(inner[1]).split()) == expected
