"""A strict re-implementation of Telegram's ``parse_mode=HTML`` entity parser.

It is deliberately *stricter* than Telegram in one respect: a bare ``&`` that does
not start one of the supported entities is rejected (Telegram silently keeps it),
because it almost always means the bot forgot to escape user input.

``parse_html(source)`` returns ``(plain_text, entities)`` where ``entities`` are
dicts shaped like the Bot API's MessageEntity, with UTF-16 offsets/lengths.
On error it raises :class:`HtmlParseError`; ``str(err)`` is the reason text that
follows ``Bad Request: can't parse entities: `` in Telegram's error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HtmlParseError", "parse_html", "utf16_len"]

SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
ALLOWED_TAGS = set(SIMPLE_TAGS) | {"a", "span", "tg-emoji"}

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8}));")
_TAG_NAME_RE = re.compile(r"[a-zA-Z0-9-]+")
_ATTR_NAME_RE = re.compile(r"[a-zA-Z0-9_-]+")
_END_TAG_RE = re.compile(r"</([a-zA-Z0-9-]*)\s*>")
_UNQUOTED_VALUE_RE = re.compile(r"[^\s>\"']+")


class HtmlParseError(ValueError):
    def __init__(self, reason: str, byte_offset: int):
        super().__init__(f"{reason} at byte offset {byte_offset}")
        self.reason = reason
        self.byte_offset = byte_offset


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    tag: str
    start: int  # utf-16 offset in the output
    index: int  # of its '<' in the source (its byte offset is computed on error)
    seq: int
    attrs: dict[str, str] = field(default_factory=dict)
    language: str | None = None


def _decode_entity(source: str, i: int, byte_at: list[int]) -> tuple[str, int]:
    """Decode the entity starting at ``source[i] == '&'``; return (char, index after it)."""
    m = _ENTITY_RE.match(source, i)
    if not m:
        raise HtmlParseError("Unsupported HTML entity (escape '&' as &amp;)", byte_at[i])
    if m.group(1):
        return _NAMED_ENTITIES[m.group(1)], m.end()
    code = int(m.group(2)) if m.group(2) else int(m.group(3), 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise HtmlParseError("Invalid numeric HTML entity", byte_at[i])
    return chr(code), m.end()


def _decode_attr_value(source: str, start: int, end: int, byte_at: list[int]) -> str:
    """Decode entities in ``source[start:end]`` (an attribute value)."""
    out = []
    j = start
    while j < end:
        if source[j] == "&":
            ch, j = _decode_entity(source, j, byte_at)
            out.append(ch)
        else:
            out.append(source[j])
            j += 1
    return "".join(out)


def _parse_start_tag(source: str, i: int, byte_at: list[int]) -> tuple[str, dict[str, str], int]:
    """Parse ``<name attr=...>`` starting at ``source[i] == '<'``."""
    m = _TAG_NAME_RE.match(source, i + 1)
    if not m:
        raise HtmlParseError('Unsupported start tag ""', byte_at[i])
    name = m.group(0).lower()
    if name not in ALLOWED_TAGS:
        raise HtmlParseError(f'Unsupported start tag "{name}"', byte_at[i])
    j = m.end()
    attrs: dict[str, str] = {}
    n = len(source)
    while True:
        while j < n and source[j].isspace():
            j += 1
        if j >= n:
            raise HtmlParseError("Unclosed start tag", byte_at[i])
        if source[j] == ">":
            return name, attrs, j + 1
        am = _ATTR_NAME_RE.match(source, j)
        if not am:
            raise HtmlParseError(f'Unexpected character in the start tag "{name}"', byte_at[j])
        attr = am.group(0).lower()
        j = am.end()
        while j < n and source[j].isspace():
            j += 1
        if j < n and source[j] == "=":
            j += 1
            while j < n and source[j].isspace():
                j += 1
            if j >= n:
                raise HtmlParseError("Unclosed start tag", byte_at[i])
            if source[j] in "\"'":
                quote = source[j]
                end = source.find(quote, j + 1)
                if end == -1:
                    raise HtmlParseError("Unclosed start tag", byte_at[i])
                attrs[attr] = _decode_attr_value(source, j + 1, end, byte_at)
                j = end + 1
            else:
                vm = _UNQUOTED_VALUE_RE.match(source, j)
                if not vm:
                    raise HtmlParseError(f'Empty value of the attribute "{attr}"', byte_at[j])
                attrs[attr] = _decode_attr_value(source, j, vm.end(), byte_at)
                j = vm.end()
        else:
            attrs[attr] = ""


def _entity_for(frame: _Open, length: int) -> dict[str, Any] | None:
    tag = frame.tag
    base: dict[str, Any] = {"offset": frame.start, "length": length}
    if tag == "a":
        href = frame.attrs.get("href")
        if not href:
            return None
        m = re.fullmatch(r"tg://user\?id=(\d+)", href)
        if m:
            user = {"id": int(m.group(1)), "is_bot": False, "first_name": ""}
            return {"type": "text_mention", **base, "user": user}
        return {"type": "text_link", **base, "url": href}
    if tag == "span":
        return {"type": "spoiler", **base}
    if tag == "tg-emoji":
        return {"type": "custom_emoji", **base, "custom_emoji_id": frame.attrs["emoji-id"]}
    if tag == "blockquote":
        kind = "expandable_blockquote" if "expandable" in frame.attrs else "blockquote"
        return {"type": kind, **base}
    if tag == "pre":
        ent = {"type": "pre", **base}
        if frame.language:
            ent["language"] = frame.language
        return ent
    return {"type": SIMPLE_TAGS[tag], **base}


_TEXT_RUN = re.compile(r"[^&<]+")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


class _ByteOffsets:
    """`at[k]`: the UTF-8 byte offset of `source[k]`, computed only when an error needs it."""

    def __init__(self, source: str) -> None:
        self._source = source

    def __getitem__(self, k: int) -> int:
        return len(self._source[:k].encode("utf-8", "surrogatepass"))


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    byte_at: Any = _ByteOffsets(source)
    out: list[str] = []
    pos16 = 0
    stack: list[_Open] = []
    created: list[tuple[int, dict[str, Any]]] = []
    seq = 0
    i = 0
    n = len(source)
    text_run = _TEXT_RUN.match
    while i < n:
        run = text_run(source, i)
        if run is not None:  # plain text up to the next '&' or '<', in one step
            chunk = run.group(0)
            out.append(chunk)
            pos16 += len(chunk) + len(_ASTRAL.findall(chunk))
            i = run.end()
            continue
        ch = source[i]
        if ch == "&":
            decoded, i = _decode_entity(source, i, byte_at)
            out.append(decoded)
            pos16 += utf16_len(decoded)
            continue
        if ch == "<":
            if i + 1 < n and source[i + 1] == "/":
                m = _END_TAG_RE.match(source, i)
                if not m:
                    raise HtmlParseError("Unclosed end tag", byte_at[i])
                name = m.group(1).lower()
                if not stack:
                    raise HtmlParseError(f'Unexpected end tag "{name}"', byte_at[i])
                top = stack[-1]
                if top.tag != name:
                    raise HtmlParseError(
                        f'Unmatched end tag, expected "</{top.tag}>", found "</{name}>"',
                        byte_at[i],
                    )
                stack.pop()
                length = pos16 - top.start
                parent = stack[-1] if stack else None
                lang_class = top.attrs.get("class", "")
                if (
                    top.tag == "code"
                    and parent is not None
                    and parent.tag == "pre"
                    and lang_class.startswith("language-")
                    and len(lang_class) > len("language-")
                ):
                    parent.language = lang_class[len("language-") :]
                elif length > 0:
                    ent = _entity_for(top, length)
                    if ent is not None:
                        created.append((top.seq, ent))
                i = m.end()
                continue
            name, attrs, end = _parse_start_tag(source, i, byte_at)
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise HtmlParseError('Unsupported start tag "span"', byte_at[i])
            if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
                raise HtmlParseError(
                    'Tag "tg-emoji" must have a valid attribute "emoji-id"', byte_at[i]
                )
            stack.append(_Open(name, pos16, i, seq, attrs))
            seq += 1
            i = end
            continue
    if stack:
        top = stack[-1]
        raise HtmlParseError(
            f'Can\'t find end tag corresponding to start tag "{top.tag}"', byte_at[top.index]
        )
    created.sort(key=lambda item: (item[1]["offset"], -item[1]["length"], item[0]))
    return "".join(out), [ent for _, ent in created]
