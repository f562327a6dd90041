"""The resource catalogue (价值匹配, dimension 4): a TOML file validated with pydantic. Pure data.

`load_resources(None)` gives the shipped campus catalogue (`domain/default_resources.toml`).
A bad file raises ResourcesError whose message names the file, the key path and the
problem, one line per problem, e.g. `resources.toml: resources[2].kind: must be one of …`.

`Catalogue.lookup(text)` finds a resource by code, Chinese or English name, alias, or a unique
prefix of any of them; several resources sharing the prefix is ambiguous; nothing matching
means the counsellor named a resource that is not in the catalogue (kept as free text).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from domain.rules import _TOML_POS, _path, _problem

DEFAULT_RESOURCES_PATH = Path(__file__).with_name("default_resources.toml")

KINDS: tuple[str, ...] = ("on_campus", "off_campus", "personal")
Kind = Literal["on_campus", "off_campus", "personal"]
Text = Annotated[str, Field(strict=True, min_length=1)]
Code = Annotated[str, Field(strict=True, pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]


class ResourcesError(Exception):
    """A catalogue file that cannot be used. `problems` holds (key path, problem) pairs."""

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


def norm(text: str) -> str:
    return " ".join(text.casefold().split())


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Resource(_Model):
    code: Code
    kind: Kind
    en: Text
    zh: Text
    desc_en: Text
    desc_zh: Text
    aliases: list[Text] = []
    # Need categories (domain rules `needs.categories` codes) this resource answers, and extra
    # words: a client's need whose category or text matches is a hint to suggest it.
    needs: list[Code] = []
    keywords: list[Text] = []
    # Crisis resources (issue 11) are named on every crisis/high alert with how to reach them:
    # the operator fills in contact_zh / contact_en (a phone number, a room, opening hours).
    # An empty contact is shown as "not set yet" so a placeholder is never mistaken for data.
    crisis: bool = False
    contact_zh: str = ""
    contact_en: str = ""

    def contact(self, lang: str) -> str:
        """How to reach it in the reader's language ("" when not set yet)."""
        own = self.contact_zh if lang == "zh" else self.contact_en
        return (own or self.contact_en or self.contact_zh).strip()

    def name(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def desc(self, lang: str) -> str:
        return self.desc_zh if lang == "zh" else self.desc_en

    @property
    def names(self) -> tuple[str, ...]:
        return (self.code, self.en, self.zh, *self.aliases)


@dataclass(frozen=True)
class Lookup:
    """`resource` when one matched; `candidates` when a prefix fits several; both empty: not
    in the catalogue."""

    resource: Resource | None = None
    candidates: tuple[Resource, ...] = ()


class Catalogue(_Model):
    version: Literal[1] = 1
    resources: list[Resource] = []
    _source: str = PrivateAttr(default="resources.toml")
    _index: dict[str, Resource] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: object) -> None:
        for r in self.resources:
            for name in r.names:
                self._index.setdefault(norm(name), r)

    @property
    def source(self) -> str:
        return self._source

    def get(self, code: str) -> Resource | None:
        """By exact code only (what a referral stores)."""
        found = self._index.get(code)
        return found if found is not None and found.code == code else None

    def by_kind(self) -> list[tuple[str, list[Resource]]]:
        return [
            (k, [r for r in self.resources if r.kind == k])
            for k in KINDS
            if any(r.kind == k for r in self.resources)
        ]

    def lookup(self, text: str, *, prefix: bool = True) -> Lookup:
        key = norm(text)
        if not key:
            return Lookup()
        exact = self._index.get(key)
        if exact is not None:
            return Lookup(resource=exact)
        if not prefix:
            return Lookup()
        found: dict[str, Resource] = {}
        for r in self.resources:
            if any(norm(n).startswith(key) for n in r.names):
                found[r.code] = r
        if len(found) == 1:
            return Lookup(resource=next(iter(found.values())))
        return Lookup(candidates=tuple(found.values()))

    def label(self, stored: str, lang: str) -> str:
        """How a referral's stored resource reads: the catalogue name, or the free text."""
        r = self.get(stored)
        return r.name(lang) if r is not None else stored

    def crisis_resources(self) -> list[Resource]:
        """The resources marked `crisis = true`, in file order (named on every alert)."""
        return [r for r in self.resources if r.crisis]

    def for_needs(self, categories: set[str], texts: list[str]) -> list[Resource]:
        """Resources answering any of the need categories, or whose keywords, names or aliases
        occur in a need (a need written "勤工助学" is offered the work-study post). Resources
        named in a need come first, then the others in catalogue order."""
        low = [norm(t) for t in texts]
        named, other = [], []
        for r in self.resources:
            if any(_mentions(t, n) for n in (r.zh, r.en, *r.aliases) for t in low):
                named.append(r)
            elif categories & set(r.needs) or any(norm(k) in t for k in r.keywords for t in low):
                other.append(r)
        return named + other


def _mentions(text: str, name: str) -> bool:
    """`name` occurs in `text`: a Chinese name of two characters or more as a substring, a
    Latin one as whole words (so "lab" is not found in "collaborate")."""
    n = norm(name)
    if len(n) < 2:
        return False
    if not n.isascii():
        return n in text
    return re.search(rf"(?<![a-z0-9]){re.escape(n)}(?![a-z0-9])", text) is not None


def _cross_checks(cat: Catalogue) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    codes: dict[str, int] = {}
    owner: dict[str, str] = {}
    for i, r in enumerate(cat.resources):
        if r.code in codes:
            problems.append((f"resources[{i}].code", f"{r.code!r} is used twice"))
        codes.setdefault(r.code, i)
        for field, values in (
            ("code", [r.code]),
            ("en", [r.en]),
            ("zh", [r.zh]),
            ("aliases", r.aliases),
        ):
            for name in values:
                key = norm(name)
                if owner.get(key, r.code) != r.code:
                    problems.append(
                        (
                            f"resources[{i}].{field}",
                            f"{name!r} names both {owner[key]!r} and {r.code!r}",
                        )
                    )
                owner.setdefault(key, r.code)
    return problems


def parse_resources(text: str, source: str = "resources.toml") -> Catalogue:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        where = _TOML_POS.search(msg)
        pos = f"line {where['line']}, column {where['col']}" if where else "?"
        msg = msg[: where.start()].rstrip() if where else msg
        raise ResourcesError(f"{source}: {pos}: TOML syntax error: {msg}", [(pos, msg)]) from None
    try:
        cat = Catalogue.model_validate(data)
    except ValidationError as exc:
        problems = [(_path(e["loc"]), _problem(e)) for e in exc.errors()]
    else:
        problems = _cross_checks(cat)
    if problems:
        message = "\n".join(f"{source}: {p}: {m}" if p else f"{source}: {m}" for p, m in problems)
        raise ResourcesError(message, problems)
    cat._source = source
    return cat


def load_resources(path: str | Path | None = None) -> Catalogue:
    """The catalogue in `path`; None → the shipped default (cached: it never changes)."""
    if path is None:
        return _default()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ResourcesError(f"{p}: cannot read the resource catalogue: {exc}") from None
    return parse_resources(text, source=str(p))


@lru_cache(maxsize=1)
def _default() -> Catalogue:
    return parse_resources(
        DEFAULT_RESOURCES_PATH.read_text(encoding="utf-8"), source=DEFAULT_RESOURCES_PATH.name
    )


def resource_label(stored: str, lang: str) -> str:
    """Template helper: a stored referral resource in the reader's language."""
    return _default().label(stored, lang)
