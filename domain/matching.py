"""Find the client a counsellor meant from what they typed.

Rules, first that hits wins (several hits at one rule = ambiguous, best first):
1. all digits → the client's `number`, else an exact `sid`;
2. exact name (case-insensitive, spacing-insensitive; quoted refs too);
3. full pinyin without tones (`wangfang`, `wang fang`);
4. name prefix (`王`, `ali`) — for a Latin ref together with pinyin prefix (`wangf`), so
   `li` with both "Li Ming" and 李明 is ambiguous rather than a silent guess;
5. pinyin initials (`wf`), then initials prefix;
Latin names compare case-insensitively throughout. With no hit, `suggestions` holds
close names (substring, then difflib on the name and its pinyin).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from pypinyin import lazy_pinyin

from domain.grammar import ClientRef
from domain.model import Client

MAX_CANDIDATES = 8
MAX_SUGGESTIONS = 5
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True, slots=True)
class Match:
    client: Client | None = None
    candidates: list[Client] = field(default_factory=list)  # ambiguous: best first, ≤ 8
    suggestions: list[Client] = field(default_factory=list)  # none matched: close ones, ≤ 5

    @property
    def ambiguous(self) -> bool:
        return self.client is None and bool(self.candidates)

    @property
    def found(self) -> bool:
        return self.client is not None


@lru_cache(maxsize=8192)
def _fold(text: str) -> str:
    """NFKC, casefold, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _squash(text: str) -> str:
    """For pinyin comparison: lowercase letters/digits only, ü → v."""
    t = _fold(text).replace("ü", "v").replace("u:", "v")
    return re.sub(r"[\s'’\-_.·•]", "", t)


# surnames whose reading differs from the character's everyday one
_SURNAMES = {
    "单": "shan",
    "曾": "zeng",
    "解": "xie",
    "仇": "qiu",
    "区": "ou",
    "查": "zha",
    "朴": "piao",
    "盖": "ge",
    "覃": "qin",
    "乐": "yue",
    "缪": "miao",
    "召": "shao",
    "繁": "po",
    "瞿": "qu",
    "翟": "zhai",
    "员": "yun",
    "秘": "bi",
    "种": "chong",
    "尉": "yu",
    "黑": "he",
    "宁": "ning",
    "纪": "ji",
    "任": "ren",
    "华": "hua",
}


def _syllables(name: str) -> list[str]:
    out: list[str] = []
    for item in lazy_pinyin(_fold(name), errors=lambda chunk: chunk):
        for word in re.split(r"[\s\-_.·•'’]+", item.replace("ü", "v")):
            if word:
                out.append(word)
    return out


@lru_cache(maxsize=8192)
def _keys(name: str) -> tuple[frozenset[str], frozenset[str]]:
    """(full pinyin spellings, initials) of a name: pypinyin's reading, plus the surname
    reading of the first character (单 shan, 曾 zeng …) and ü typed as u (lu for 吕).
    Latin words count as one syllable each, so `lm` finds "Li Ming"."""
    variants = [_syllables(name)]
    first = name.strip()[:1]
    if first in _SURNAMES and variants[0]:
        variants.append([_SURNAMES[first], *variants[0][1:]])
    full: set[str] = set()
    initials: set[str] = set()
    for syl in variants:
        for s in (syl, [w.replace("v", "u") for w in syl]):
            full.add("".join(s))
            initials.add("".join(w[0] for w in s))
    return frozenset(full), frozenset(initials)


def _as_ref(ref: ClientRef | str) -> ClientRef:
    return ref if isinstance(ref, ClientRef) else ClientRef(ref.strip())


def folded_name(name: str) -> str:
    """A name as rule 2 (exact name) compares it: NFKC, casefolded, single spaces. Two
    names are "the same name" exactly when their folded names are equal."""
    return _fold(name)


def lookup_key(ref: ClientRef | str) -> int | str | None:
    """What an index can answer for `ref` without reading the whole caseload: the client
    number (an int) for an all-digit ref (rule 1), else the folded name (a str) for rule 2;
    None for an empty ref. Whenever some client has that number, or that folded name,
    `match_client(ref, those clients)` is `match_client(ref, the whole caseload)`: the
    first rule that hits is that one, and it hits exactly those clients."""
    q = _fold(_as_ref(ref).text)
    if not q:
        return None
    digits = unicodedata.normalize("NFKC", q).lstrip("#")
    if digits.isdigit() and digits.isascii():
        return int(digits)
    return q


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _rank(clients: list[Client]) -> list[Client]:
    """Best first: shorter names (closer to what was typed), then most recent contact."""
    return sorted(
        clients,
        key=lambda c: (len(c.name), -(c.last_contact_at or _EPOCH).timestamp(), c.number),
    )


def _result(hits: list[Client]) -> Match | None:
    if not hits:
        return None
    if len(hits) == 1:
        return Match(client=hits[0])
    return Match(candidates=_rank(hits)[:MAX_CANDIDATES])


def match_client(ref: ClientRef | str, clients: Sequence[Client], *, suggest: bool = True) -> Match:
    """The client `ref` names among `clients` (one counsellor's caseload); with
    `suggest=False`, a miss comes back without suggestions (they cost a fuzzy comparison
    with every name)."""
    ref = _as_ref(ref)
    q = _fold(ref.text)
    if not q:
        return Match()
    digits = unicodedata.normalize("NFKC", q).lstrip("#")
    if digits.isdigit() and digits.isascii():
        n = int(digits)
        hit = [c for c in clients if c.number == n]
        if not hit:
            hit = [c for c in clients if c.sid is not None and _fold(c.sid) == digits]
        return _result(hit) or Match()

    sq = _squash(q)
    latin = sq.isascii() and sq.isalnum()
    rules: list[Callable[[Client], bool]] = [lambda c: _fold(c.name) == q]
    if latin:
        rules += [
            lambda c: sq in _keys(c.name)[0],
            # a Latin prefix may be a Latin name's start or a Chinese name's pinyin start:
            # one rule, so "li" with both "Li Ming" and 李明 asks rather than guesses
            lambda c: (
                _fold(c.name).startswith(q) or any(f.startswith(sq) for f in _keys(c.name)[0])
            ),
            lambda c: sq in _keys(c.name)[1],
            lambda c: any(i.startswith(sq) for i in _keys(c.name)[1]),
        ]
    else:
        rules.append(lambda c: _fold(c.name).startswith(q))
    for rule in rules:
        found = _result([c for c in clients if rule(c)])
        if found:
            return found
    return Match(suggestions=_suggest(q, sq, clients) if suggest else [])


def _suggest(q: str, sq: str, clients: Sequence[Client]) -> list[Client]:
    out: list[Client] = []

    def add(cs: list[Client]) -> None:
        for c in cs:
            if c not in out and len(out) < MAX_SUGGESTIONS:
                out.append(c)

    add(_rank([c for c in clients if q in _fold(c.name)]))
    by_name: dict[str, list[Client]] = {}
    for c in clients:
        by_name.setdefault(_fold(c.name), []).append(c)
    for name in difflib.get_close_matches(q, list(by_name), n=MAX_SUGGESTIONS, cutoff=0.5):
        add(by_name[name])
    if sq.isascii() and sq.isalnum() and len(out) < MAX_SUGGESTIONS:
        by_py: dict[str, list[Client]] = {}
        for c in clients:
            for f in _keys(c.name)[0]:
                by_py.setdefault(f, []).append(c)
        for key in difflib.get_close_matches(sq, list(by_py), n=MAX_SUGGESTIONS, cutoff=0.75):
            add(by_py[key])
    return out


def named_at_start(text: str, clients: Sequence[Client]) -> list[Client]:
    """Clients a plain note starts with: `田欣怡 今天来办公室…` or `txy 今天…` / `tianxinyi …`.

    A full name (two characters or more) at the very start, or a first word that is exactly
    a client's full pinyin or pinyin initials (3+ letters). Longest name first, ≤ 8.
    """
    head = _fold(text)
    if not head:
        return []
    by_name = [c for c in clients if len(_fold(c.name)) >= 2 and head.startswith(_fold(c.name))]
    first = head.split(" ", 1)[0]
    word = re.split(r"[,，:：。;；]", first)[0]
    sq = _squash(word)
    by_pinyin: list[Client] = []
    if sq.isascii() and sq.isalpha() and len(sq) >= 3:
        by_pinyin = [
            c
            for c in clients
            if _HAN.search(c.name) and (sq in _keys(c.name)[0] or sq in _keys(c.name)[1])
        ]
    out: list[Client] = []
    for c in sorted(by_name, key=lambda c: -len(c.name)) + by_pinyin:
        if c not in out:
            out.append(c)
    return out[:MAX_CANDIDATES]
