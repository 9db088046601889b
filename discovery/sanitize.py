"""Untrusted text made inert for each place it is shown: one helper per sink.

Everything a candidate writes (its code, docstrings and design notes, its output, the reasons
and error tails its failures leave, the names it gives things) and everything a model answers is
data, never markup or commands. Each sink has its own syntax, so each has its own escape, and
every sink goes through this module, never a copy of it:

- a terminal: `terminal` drops escape sequences and control characters (a window title, an
  erased line, a cursor moved over an earlier line), keeping newlines and tabs;
- Rich: `text` is a `rich.text.Text`, which Rich never parses as markup (`[bold]`, `[/]`) nor
  as emoji codes (`:smile:`): never put untrusted text into a markup string;
- matplotlib: `mathtext` escapes `$`, which would otherwise start mathtext (`$\\frac{` raises);
- Markdown (report.md): `markdown` backslash-escapes every ASCII punctuation character, so that
  no image, link, HTML tag, entity, emphasis, code span, table pipe or math survives as syntax.

The browser view needs none of these: its page puts every string in through `textContent`.
"""

import re
import string
from typing import Any

from rich.text import Text

_CONTROL = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"   # OSC (window title, hyperlink), BEL- or ST-ended
    r"|\x1b[P^_X][^\x1b]*(?:\x1b\\)?"       # DCS, PM, APC, SOS strings
    r"|\x1b\[[0-?]*[ -/]*[@-~]?"            # CSI (erase line, move cursor, colours)
    r"|\x1b[ -/]*[0-~]?"                    # any other escape
    r"|\x9b[0-?]*[ -/]*[@-~]?"              # the 8-bit CSI
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"      # C0 but tab and newline, DEL, C1
    r"|[\u202a-\u202e\u2066-\u2069]"         # bidirectional overrides (text shown reordered)
)

_PUNCTUATION = re.compile(f"([{re.escape(string.punctuation)}])")


def terminal(value: object) -> str:
    """`value` as text with every escape sequence and control character removed but newline and
    tab, so that printing it can only show characters: a carriage return would let a line
    overwrite itself, an OSC retitle the window, a CSI erase what came before."""
    return _CONTROL.sub("", str(value))


def text(value: object, style: str = "", **options: Any) -> Text:
    """`value` for Rich: a Text (never parsed as markup), its control characters removed;
    `options` are Text's (overflow, no_wrap)."""
    return Text(terminal(value), style=style, **options)


def mathtext(value: object) -> str:
    """`value` as a matplotlib label or title, shown literally: every `$` escaped (an unescaped
    pair starts mathtext, which raises on what it cannot parse), control characters removed."""
    return terminal(value).replace("$", r"\$")


def markdown(value: object) -> str:
    """`value` as inline Markdown text on one line, shown literally: every ASCII punctuation
    character backslash-escaped (CommonMark lets any of them be, GitHub tables included), line
    breaks made spaces, control characters removed."""
    return _PUNCTUATION.sub(r"\\\1", " ".join(terminal(value).splitlines()))
