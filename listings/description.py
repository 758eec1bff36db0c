"""A listing's description edited as text and sent to Reverb as HTML.

Reverb keeps a description as HTML. The forms edit plain text instead: paragraphs (a blank line between
them), line breaks, and simple lists (every line of a block starting with "- " or "* ", or "1. ", "2. "...).
`to_html` makes Reverb's HTML of it, everything typed escaped (a typed <script> is text, never markup);
`to_text` reads an HTML description back as that text, or None when the HTML holds more than text can say
(bold, links, attributes...): such a description is kept and edited as HTML, never flattened unasked.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

TAG = re.compile(r"<[a-zA-Z/!]")
BULLET = re.compile(r"^[-*]\s+")
NUMBER = re.compile(r"^\d+[.)]\s+")
# Tags text can stand for; anything else (or any attribute) makes the HTML not representable as text.
TEXT_TAGS = frozenset({"p", "br", "ul", "ol", "li"})
# What an HTML description edited as HTML may not hold: Reverb shows it to buyers.
UNSAFE = re.compile(r"<\s*/?\s*(script|style|iframe|object|embed|form)\b|\son\w+\s*=|javascript:", re.I)


def _kind(line: str) -> str:
    return "ul" if BULLET.match(line) else "ol" if NUMBER.match(line) else "p"


def _block(lines: list[str]) -> str:
    """One block of lines: runs of list lines become lists, the other runs paragraphs with line breaks
    ("Includes:" then "- case" lines is a paragraph and a list)."""
    out = []
    run: list[str] = []
    for i, line in enumerate(lines):
        run.append(line)
        if i + 1 < len(lines) and _kind(lines[i + 1]) == _kind(line):
            continue
        kind = _kind(line)
        if kind == "p":
            out.append("<p>" + "<br>".join(html.escape(x) for x in run) + "</p>")
        else:
            mark = BULLET if kind == "ul" else NUMBER
            out.append(
                f"<{kind}>" + "".join(f"<li>{html.escape(mark.sub('', x))}</li>" for x in run) + f"</{kind}>"
            )
        run = []
    return "".join(out)


def to_html(text: str) -> str:
    """Reverb's HTML for the typed text ('' for none)."""
    blocks, lines = [], []
    for raw in (text or "").replace("\r\n", "\n").split("\n") + [""]:
        line = raw.strip()
        if line:
            lines.append(line)
        elif lines:
            blocks.append(_block(lines))
            lines = []
    return "".join(blocks)


class _Reader(HTMLParser):
    """Walks HTML into tokens: ("tag", name) for the text tags, ("text", words); `plain` turns False at
    any other tag or any attribute."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tokens: list[tuple[str, str]] = []
        self.plain = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TEXT_TAGS or attrs:
            self.plain = False
        self.tokens.append(("tag", tag))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag not in TEXT_TAGS:
            self.plain = False
        if tag != "br":
            self.tokens.append(("tag", "/" + tag))

    def handle_data(self, data: str) -> None:
        words = " ".join(data.split())
        if words:
            self.tokens.append(("text", words))

    def handle_comment(self, data: str) -> None:
        self.plain = False

    def unknown_decl(self, data: str) -> None:
        self.plain = False


def _read(value: str) -> _Reader:
    reader = _Reader()
    reader.feed(value or "")
    reader.close()
    return reader


class _Typed:
    """Typed text being written from the tokens of text-only HTML: one method per tag, in `_ON_TAG`."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.lines: list[str] = []
        self.line: list[str] = []
        self.lists: list[str] = []  # the open lists, "ul" or "ol"
        self.count = 0

    def end_line(self, tag: str = "") -> None:
        if self.line:
            self.lines.append(" ".join(self.line))
            self.line = []

    def end_block(self, tag: str = "") -> None:
        self.end_line()
        if self.lines:
            self.blocks.append("\n".join(self.lines))
            self.lines = []

    def open_list(self, tag: str) -> None:
        self.end_block()
        self.lists.append(tag)
        self.count = 0

    def close_list(self, tag: str) -> None:
        self.end_block()
        if self.lists:
            self.lists.pop()

    def item(self, tag: str) -> None:
        self.end_line()
        self.count += 1
        self.line.append("-" if not self.lists or self.lists[-1] == "ul" else f"{self.count}.")


_ON_TAG = {
    "p": _Typed.end_block,
    "/p": _Typed.end_block,
    "ul": _Typed.open_list,
    "ol": _Typed.open_list,
    "/ul": _Typed.close_list,
    "/ol": _Typed.close_list,
    "br": _Typed.end_line,
    "li": _Typed.item,
    "/li": _Typed.end_line,
}


def _text_of(tokens: list[tuple[str, str]]) -> str:
    """The tokens of text-only HTML as typed text (the inverse of to_html)."""
    typed = _Typed()
    for kind, value in tokens:
        if kind == "text":
            typed.line.append(value)
        elif value in _ON_TAG:
            _ON_TAG[value](typed, value)
    typed.end_block()
    return "\n\n".join(typed.blocks)


def _same(a: str, b: str) -> bool:
    return _read(a).tokens == _read(b).tokens


def to_text(value: str) -> str | None:
    """The typed text of an HTML description, or None when text cannot say all of it. Plain text (no
    tags: an old or outside-made description) reads as itself."""
    if not TAG.search(value or ""):
        return value or ""
    reader = _read(value)
    if not reader.plain:
        return None
    text = _text_of(reader.tokens)
    # Representable means: the text's HTML says the same (nested lists, a list item holding a paragraph,
    # a typed "- " at a paragraph's start... would come back different).
    return text if _same(to_html(text), value) else None


def unsafe(value: str) -> bool:
    """Whether HTML typed as HTML holds a script, a frame, an event handler or a javascript: link."""
    return bool(UNSAFE.search(value or ""))
