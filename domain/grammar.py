"""Argument grammar of CareMap's commands.

Each `parse_*` takes the ARGUMENT text of a command (what follows `/cmd`; may be empty,
multi-line, Chinese, emoji) and returns a frozen dataclass, or raises `CommandError`.

Tokens are whitespace-separated; "…", '…', “…”, ‘…’, 「…」, 『…』 group words (a name with
spaces, a quoted `next="12-01 14:30"`, a `#"internship referral"` need). Tokens keep their
character positions, so free text (notes, goals, plan text) comes back exactly as typed —
newlines and inner spacing kept — with only the recognised option tokens taken out.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import cast

from domain.errors import CommandError
from domain.model import Risk
from domain.vocab import CHANNELS, parse_channel, parse_outcome
from domain.when import DayTimes, parse_when

__all__ = [
    "CHANNELS",
    "ClientRef",
    "InputWarning",
    "split_command",
    "suggest_command",
    "Goal",
    "LogEntry",
    "NeedSpec",
    "NewClient",
    "PlanSpec",
    "ScreeningSpec",
    "StatusUpdate",
    "parse_client_only",
    "parse_client_ref",
    "parse_goal",
    "parse_lang",
    "parse_log",
    "parse_new",
    "parse_plan",
    "parse_scores",
    "parse_screening",
    "parse_status",
]

NAME_MAX = 64
TAG_MAX = 32
TAGS_PER_CLIENT_MAX = 20  # a client's tags stay readable in one line of /map and /clients
NEED_MAX = 200
FIELD_MAX = 64
NOTES_MAX = 8000
TEXT_MAX = 2000


# ---------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class ClientRef:
    text: str
    quoted: bool = False


@dataclass(frozen=True, slots=True)
class NewClient:
    name: str
    tags: tuple[str, ...] = ()
    sid: str | None = None
    major: str | None = None
    grade: str | None = None


@dataclass(frozen=True, slots=True)
class NeedSpec:
    text: str
    explicit: bool = True


@dataclass(frozen=True, slots=True)
class InputWarning:
    """Something typed that the bot did not take as an option: said back, never silent.

    `unknown_option`: `text` (e.g. `trsut=4`) stayed in the notes; `hint` is the option the
    counsellor probably meant (`trust`), or "".
    """

    code: str
    text: str
    hint: str = ""


@dataclass(frozen=True, slots=True)
class LogEntry:
    client_ref: ClientRef
    notes: str
    needs: tuple[NeedSpec, ...] = ()
    channel: str | None = None
    trust: int | None = None
    satisfaction: int | None = None
    risk: Risk | None = None
    next_due: datetime | None = None  # UTC
    next_text: str | None = None
    # `next=` whose date could not be read (`next=过几天`): the note is still saved and the
    # bot asks for the date with buttons. `next_error` is "bad_when" or "past_when".
    next_unread: str | None = None
    next_error: str | None = None
    warnings: tuple[InputWarning, ...] = ()
    outcome: str | None = None  # `outcome=` (domain.vocab.OUTCOMES): reached, unreached, …
    strengths: tuple[str, ...] = ()  # `#+编程强`: strengths, kept as client tags "+编程强"


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    client_ref: ClientRef
    trust: int | None = None
    satisfaction: int | None = None
    risk: Risk | None = None
    add_tags: tuple[str, ...] = ()  # `#tag`
    remove_tags: tuple[str, ...] = ()  # `-#tag`: clear a tag (e.g. a risk tag no longer true)
    payer: str | None = None  # practice mode: `pay=self|insurance`
    capacity: int | None = None  # practice mode: `capacity=1-5`

    @property
    def is_query(self) -> bool:
        """True when nothing is to change: show the status."""
        return (
            self.trust is None
            and self.satisfaction is None
            and self.risk is None
            and not self.add_tags
            and not self.remove_tags
            and self.payer is None
            and self.capacity is None
        )


@dataclass(frozen=True, slots=True)
class Goal:
    client_ref: ClientRef
    text: str


@dataclass(frozen=True, slots=True)
class PlanSpec:
    client_ref: ClientRef
    due: datetime  # UTC
    text: str


@dataclass(frozen=True, slots=True)
class ScreeningSpec:
    client_ref: ClientRef
    answers: tuple[int, ...] | None  # None: ask the questionnaire with buttons


# ---------------------------------------------------------------- tokenizer

_PAIRS = {'"': '"', "'": "'", "＂": "＂", "“": "”", "‘": "’", "「": "」", "『": "』"}
_STRICT_CLOSE = {'"', "'", "＂"}  # ASCII-like quotes close only before whitespace / end
_PREFIX_RE = re.compile(
    r"[#＃](?:[?？]|(?:隐性|implicit|imp)[:：])?|[^\s\"'＂“”‘’「」『』=＝#＃]{1,40}[=＝]"
)


@dataclass(frozen=True, slots=True)
class _Tok:
    start: int
    end: int
    raw: str
    value: str  # raw with the grouping quote characters removed
    quoted: bool  # a quote pair grouped this token


def _tokenize(s: str, pos: int = 0) -> list[_Tok]:
    toks: list[_Tok] = []
    n = len(s)
    i = pos
    while i < n:
        while i < n and s[i].isspace():
            i += 1
        if i >= n:
            break
        start = i
        m = _PREFIX_RE.match(s, i)
        q = m.end() if m else i
        if q >= n or s[q] not in _PAIRS:
            q = i
        close_at = -1
        if q < n and s[q] in _PAIRS:
            closer = _PAIRS[s[q]]
            k = q + 1
            while True:
                k = s.find(closer, k)
                if k < 0:
                    break
                if s[q] not in _STRICT_CLOSE or k + 1 >= n or s[k + 1].isspace():
                    close_at = k
                    break
                k += 1
        if close_at >= 0:
            j = close_at + 1
            while j < n and not s[j].isspace():
                j += 1
            value = s[start:q] + s[q + 1 : close_at] + s[close_at + 1 : j]
            toks.append(_Tok(start, j, s[start:j], value, True))
            i = j
        else:
            j = i
            while j < n and not s[j].isspace():
                j += 1
            toks.append(_Tok(start, j, s[start:j], s[start:j], False))
            i = j
    return toks


def _strip_without(s: str, spans: list[tuple[int, int]], begin: int = 0) -> str:
    """`s[begin:]` with `spans` removed (plus the spacing they leave), outer space stripped.

    A line that only held removed tokens disappears; other spacing and newlines stay.
    """
    if not spans:
        return s[begin:].strip()
    n = len(s)
    cut = bytearray(n)
    for a, b in spans:
        left = a
        while left > begin and s[left - 1] in " \t\u3000":
            left -= 1
        if left == begin or s[left - 1] == "\n":  # token opens its line: eat the space after
            right = b
            while right < n and s[right] in " \t\u3000":
                right += 1
            cut[a:right] = b"\x01" * (right - a)
        else:
            cut[left:b] = b"\x01" * (b - left)
    out: list[str] = []
    line_start = begin
    while line_start <= n:
        nl = s.find("\n", line_start)
        line_end = n if nl < 0 else nl
        kept = "".join(s[k] for k in range(line_start, line_end) if not cut[k])
        touched = any(cut[line_start:line_end])
        if not (touched and not kept.strip()):
            out.append(kept)
            if nl >= 0:
                out.append("\n")
        if nl < 0:
            break
        line_start = nl + 1
    return "".join(out).strip()


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def _split_kv(tok: _Tok, colon: bool = False) -> tuple[str, str] | None:
    """`key=value` (also `＝`, and with `colon` also `key：value` / `key:value`):
    (normalised key, value with quotes removed); else None."""
    if tok.raw[:1] in _PAIRS:
        return None
    m = re.match(r"([^=＝:：]+)[=＝:：]" if colon else r"([^=＝]+)[=＝]", tok.value)
    if not m:
        return None
    value = tok.value[m.end() :].strip()
    if not tok.quoted:
        value = value.rstrip(_VALUE_TRAIL)
    return _norm(m.group(1)), value


def _is_tag(tok: _Tok) -> bool:
    return tok.raw[:1] in ("#", "＃")


_TRAIL_PUNCT = ",.;!?，。；！？、:："
_VALUE_TRAIL = ",.;!，。；！、"  # "risk=high，" / "trust=4;" at the end of a clause


def _tag(tok: _Tok, command: str) -> NeedSpec | None:
    """`#x` explicit, `#?x` / `#隐性:x` / `#implicit:x` implicit; None when `#123` (text)."""
    v = tok.value[1:]
    explicit = True
    m = re.match(r"[?？]|(?:隐性|implicit|imp)[:：]", v, re.IGNORECASE)
    if m:
        explicit, v = False, v[m.end() :]
    v = v.strip()
    if not tok.quoted:
        v = v.rstrip(_TRAIL_PUNCT)
    if not v:
        raise CommandError("empty_tag", command=command)
    if explicit and v.isdigit():
        return None  # "ranked #1" stays in the notes
    return NeedSpec(v, explicit)


_OPENERS = tuple(_PAIRS)
_CMD_EXAMPLE_KEYS = {
    "new": "sid, major, grade",
    "status": "trust, sat, risk",
    "log": "via, trust, sat, risk, next",
}

# option keys (normalised) → field
_NEW_KEYS = {
    "sid": "sid",
    "学号": "sid",
    "student_id": "sid",
    "major": "major",
    "专业": "major",
    "grade": "grade",
    "年级": "grade",
}
_STATUS_KEYS = {
    "trust": "trust",
    "信任": "trust",
    "信任度": "trust",
    "sat": "satisfaction",
    "satisfaction": "satisfaction",
    "满意": "satisfaction",
    "满意度": "satisfaction",
    "risk": "risk",
    "风险": "risk",
}
# private practice only (value tiers): `/status … pay=self|insurance capacity=1-5`
_VALUE_KEYS = {
    "pay": "payer",
    "payer": "payer",
    "付费": "payer",
    "付费方式": "payer",
    "capacity": "capacity",
    "支付能力": "capacity",
    "付费能力": "capacity",
}
_PAYERS = {
    "self": "self",
    "self-pay": "self",
    "selfpay": "self",
    "自费": "self",
    "自付": "self",
    "insurance": "insurance",
    "insured": "insurance",
    "医保": "insurance",
    "保险": "insurance",
    "医保报销": "insurance",
}
_LOG_KEYS = {
    **_STATUS_KEYS,
    "via": "channel",
    "channel": "channel",
    "渠道": "channel",
    "方式": "channel",
    "途径": "channel",
    "next": "next",
    "下次": "next",
    "outcome": "outcome",
    "结果": "outcome",
    "result": "outcome",
}
_ALL_KEYS = {**_NEW_KEYS, **_LOG_KEYS}


_ASCII_KEYS = (
    "via",
    "trust",
    "sat",
    "risk",
    "next",
    "sid",
    "major",
    "grade",
    "channel",
    "satisfaction",
    "outcome",
)


def _option(tok: _Tok, keys: dict[str, str]) -> tuple[str, str] | None:
    """A known option written `key=value`, `key＝value`, `key：value` or `key:value`."""
    kv = _split_kv(tok)
    if kv is not None and kv[0] in keys:
        return kv
    kv = _split_kv(tok, colon=True)
    if kv is not None and kv[0] in keys:
        return kv
    return None


def _edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, swaps."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def _closest(word: str, candidates: tuple[str, ...] | list[str]) -> str | None:
    """The one candidate within a typo of `word` (1 edit for short words, 2 for longer)."""
    word = word.casefold()
    if not word or len(word) > 20:
        return None
    limit = 1 if len(word) <= 4 else 2
    scored = sorted((_edit_distance(word, c), c) for c in candidates)
    if not scored or scored[0][0] == 0 or scored[0][0] > limit:
        return None
    if len(scored) > 1 and scored[1][0] == scored[0][0]:
        return None  # two equally close: guessing would be worse than asking
    return scored[0][1]


_OPTIONISH_KEY = re.compile(r"[a-z_]{2,14}|[\u4e00-\u9fff]{1,4}")


def _unread_option(tok: _Tok) -> InputWarning | None:
    """`trsut=4`, `nxet：周五`, `心情=好`: looks like an option the bot does not know."""
    kv = _split_kv(tok)
    colon = False
    if kv is None:
        kv = _split_kv(tok, colon=True)
        colon = True
    if kv is None or not kv[1]:
        return None
    key = kv[0]
    hint = _closest(key, _ASCII_KEYS) if key.isascii() else None
    if colon and hint is None:
        return None  # `原因：家里的事` is prose, not an option
    if hint is None and not _OPTIONISH_KEY.fullmatch(key):
        return None  # `1+1=2`, a URL: text
    return InputWarning("unknown_option", tok.raw, hint or "")


# Command names people mean when they type `／log`, `/lgo`, `、log`.
def split_command(text: str) -> tuple[str, str, bool] | None:
    """`／log 学生B …` / `/ｌｏｇ …` / `、log …` → ("log", "学生B …", ascii_slash).

    A leading slash (ASCII `/`, full-width `／`, or `、`, which a Chinese keyboard types for
    `/`) followed by a name (full-width letters allowed, `@botname` dropped). The arguments
    come back exactly as typed. `ascii_slash` is False for `／`/`、`, so the caller can ignore
    an unknown name after `、` (it is more likely text). None when `text` is no command.
    """
    if not text or text[0] not in "/／、":
        return None
    name: list[str] = []
    i = 1
    while i < len(text) and len(name) < 32:
        ch = unicodedata.normalize("NFKC", text[i])
        if len(ch) == 1 and (ch.isascii() and (ch.isalnum() or ch == "_")):
            name.append(ch.lower())
            i += 1
            continue
        break
    if not name:
        return None
    if i < len(text) and unicodedata.normalize("NFKC", text[i]) == "@":
        j = i + 1
        while j < len(text) and not text[j].isspace():
            j += 1
        i = j
    return "".join(name), text[i:].strip(), text[0] == "/"


def suggest_command(name: str, known: tuple[str, ...] | list[str]) -> str | None:
    """`lgo` → `log`, `clinets` → `clients`: the one known command a typo away, else None."""
    return _closest(name, list(known))


def _client_param(ref: ClientRef) -> str:
    return f'"{ref.text}"' if any(ch.isspace() for ch in ref.text) else ref.text


# ---------------------------------------------------------------- client refs


def parse_client_ref(args: str, command: str = "map") -> tuple[ClientRef, int]:
    """The client named first in `args`, and the index where the rest begins.

    Raises `missing_client` when there is none (empty, or the first word is an option),
    `unclosed_quote` when a quote opened before the name is never closed.
    """
    toks = _tokenize(args)
    if not toks:
        raise CommandError("missing_client", command=command)
    tok = toks[0]
    if _is_tag(tok) and unicodedata.normalize("NFKC", tok.raw[1:]).isdigit():
        return ClientRef(tok.raw), tok.end  # "#3": client number 3
    if _is_tag(tok) or (
        not tok.quoted and (kv := _split_kv(tok)) is not None and kv[0] in _ALL_KEYS
    ):
        raise CommandError("missing_client", command=command)
    if tok.quoted:
        text = tok.value.strip()
        if not text:
            raise CommandError("missing_client", command=command)
        return ClientRef(" ".join(text.split()), True), tok.end
    if tok.raw[0] in _OPENERS:
        raise CommandError("unclosed_quote", quote=tok.raw[0], command=command)
    # "王芳：今天聊了…" / "Wang, …": the name ends at the first colon or comma
    m = re.search(r"[：:，,]", tok.raw)
    if m and m.start() > 0:
        return ClientRef(tok.raw[: m.start()]), tok.start + m.end()
    return ClientRef(tok.raw), tok.end


def parse_client_only(args: str, command: str = "map") -> str:
    """/map, /forget: the whole argument is the client ("Wang Fang" works without quotes)."""
    toks = _tokenize(args)
    if not toks:
        raise CommandError("missing_client", command=command)
    if len(toks) == 1 and toks[0].quoted and toks[0].raw[0] in _OPENERS:
        text = " ".join(toks[0].value.split())
        if not text:
            raise CommandError("missing_client", command=command)
        return text
    if len(toks) == 1 and toks[0].raw[0] in _OPENERS:
        raise CommandError("unclosed_quote", quote=toks[0].raw[0], command=command)
    text = " ".join(args.split()).rstrip("：:，,。")
    if not text:
        raise CommandError("missing_client", command=command)
    return text


# ---------------------------------------------------------------- /new


def _check_name(name: str) -> str:
    name = " ".join(name.split()) if "\n" not in name else name
    if not name:
        raise CommandError("missing_name")
    if len(name) > NAME_MAX:
        raise CommandError("name_too_long", length=len(name), max=NAME_MAX)
    if name[0] in "#＃/／" or name[0] in _OPENERS:
        raise CommandError("name_bad_start", name=name, char=name[0])
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise CommandError("name_bad_char", name=" ".join(name.split()))
    if unicodedata.normalize("NFKC", name).isdigit():
        raise CommandError("name_is_number", name=name)
    return name


def parse_new(args: str) -> NewClient:
    """`<name> [#tag…] [sid=…] [major=…] [grade=…]` (also 学号= 专业= 年级=)."""
    toks = _tokenize(args)
    if not toks:
        raise CommandError("missing_name")
    first = toks[0]
    if not first.quoted and (
        _is_tag(first) or ((kv := _split_kv(first)) is not None and kv[0] in _ALL_KEYS)
    ):
        raise CommandError("missing_name")
    if not first.quoted and first.raw[0] in _OPENERS:
        raise CommandError("unclosed_quote", quote=first.raw[0], command="new")
    name = _check_name(first.value if first.quoted else first.raw.rstrip("：:，,。;；"))
    tags: list[str] = []
    fields: dict[str, str] = {}
    extra: list[str] = []
    for tok in toks[1:]:
        if _is_tag(tok) and not tok.value[1:].lstrip("#＃").startswith(("?", "？")):
            t = tok.value[1:].strip()
            if not tok.quoted:
                t = t.rstrip(_TRAIL_PUNCT)
            if not t:
                raise CommandError("empty_tag", command="new")
            if len(t) > TAG_MAX:
                raise CommandError("tag_too_long", tag=t[:TAG_MAX] + "…", max=TAG_MAX)
            if t not in tags:
                tags.append(t)
            continue
        kv = _option(tok, _NEW_KEYS) or _split_kv(tok)
        if kv is not None:
            key, value = kv
            field = _NEW_KEYS.get(key)
            if field is None:
                raise CommandError(
                    "unknown_key", key=key, known=_CMD_EXAMPLE_KEYS["new"], command="new"
                )
            if field in fields:
                raise CommandError("duplicate_option", key=key)
            if not value:
                raise CommandError("empty_value", key=key, command="new")
            if len(value) > FIELD_MAX:
                raise CommandError("value_too_long", key=key, max=FIELD_MAX)
            fields[field] = value
            continue
        extra.append(tok.raw)
    if extra:
        raise CommandError("new_extra_words", name=name, extra=" ".join(extra))
    if len(tags) > TAGS_PER_CLIENT_MAX:
        raise CommandError("too_many_tags", max=TAGS_PER_CLIENT_MAX, have=len(tags))
    return NewClient(name, tuple(tags), fields.get("sid"), fields.get("major"), fields.get("grade"))


# ---------------------------------------------------------------- option values


def _score(field: str, value: str) -> int:
    v = unicodedata.normalize("NFKC", value).strip()
    if v.isdigit() and v.isascii() and 1 <= int(v) <= 5:
        return int(v)
    raise CommandError("bad_trust" if field == "trust" else "bad_satisfaction", value=value)


def _risk(value: str) -> Risk:
    r = Risk.parse(unicodedata.normalize("NFKC", value))
    if r is None:
        raise CommandError("bad_risk", value=value)
    return r


def _outcome(value: str) -> str:
    o = parse_outcome(value)
    if o is None:
        raise CommandError("bad_outcome", value=value)
    return o


def _channel(value: str) -> str:
    c = parse_channel(value)
    if c is None:
        raise CommandError("bad_channel", value=value)
    return c


# ---------------------------------------------------------------- /log


def parse_log(args: str, now: datetime, tz: tzinfo, times: DayTimes | None = None) -> LogEntry:
    """`<client> <notes…> [#need…] [#?implicit…] [via=…] [trust=1-5] [sat=1-5] [risk=…] [next=<when>]`.

    Options may stand anywhere after the client, written `key=v`, `key＝v`, `key：v` or
    `key:v` (a value after a space is fine too). Only the known keys are options; any other
    `x=y` stays in the notes and comes back as a warning (with the option probably meant).
    `next=` takes one or two tokens (`next=12-01 14:30`) or a quote; a date that cannot be
    read does not refuse the log: `next_unread` asks the bot to ask for it.
    """
    ref, rest = parse_client_ref(args, command="log")
    toks = _tokenize(args, rest)
    spans: list[tuple[int, int]] = []
    needs: list[NeedSpec] = []
    strengths: list[str] = []
    opts: dict[str, object] = {}
    warnings: list[InputWarning] = []
    next_unread: str | None = None
    next_error: str | None = None
    i = 0
    while i < len(toks):
        tok = toks[i]
        i += 1
        if _is_tag(tok):
            need = _tag(tok, "log")
            if need is None:
                continue
            if need.explicit and need.text.startswith(("+", "＋")):  # `#+编程强`: a strength
                strength = "+" + need.text[1:].strip()
                if len(strength) > TAG_MAX:
                    raise CommandError("tag_too_long", tag=strength[:TAG_MAX] + "…", max=TAG_MAX)
                if len(strength) > 1 and strength not in strengths:
                    strengths.append(strength)
                spans.append((tok.start, tok.end))
                continue
            if len(need.text) > NEED_MAX:
                raise CommandError("tag_too_long", tag=need.text[:TAG_MAX] + "…", max=NEED_MAX)
            if need not in needs:
                needs.append(need)
            spans.append((tok.start, tok.end))
            continue
        kv = _option(tok, _LOG_KEYS)
        if kv is None:
            warning = _unread_option(tok)
            if warning is not None:
                warnings.append(warning)
            continue
        key, value = kv
        field = _LOG_KEYS[key]
        if field in opts or (field == "next" and next_unread is not None):
            raise CommandError("duplicate_option", key=key)
        end = tok.end
        nxt = toks[i] if i < len(toks) else None
        if (
            not value
            and nxt is not None
            and not nxt.quoted
            and not _is_tag(nxt)
            and _option(nxt, _LOG_KEYS) is None
        ):
            value = nxt.raw.rstrip(_VALUE_TRAIL)  # `trust： 4`: the value after a space
            end = nxt.end
            i += 1
            nxt = toks[i] if i < len(toks) else None
        if not value:
            raise CommandError("empty_value", key=key, command="log")
        if field in ("trust", "satisfaction"):
            opts[field] = _score(field, value)
        elif field == "risk":
            opts[field] = _risk(value)
        elif field == "channel":
            opts[field] = _channel(value)
        elif field == "outcome":
            opts[field] = _outcome(value)
        else:  # next: a date we cannot read never sinks the note; the bot asks for it
            due = None
            if (
                not tok.quoted
                and nxt is not None
                and not nxt.quoted
                and not _is_tag(nxt)
                and _split_kv(nxt) is None
                and _option(nxt, _LOG_KEYS) is None
            ):
                try:
                    due = parse_when(f"{value} {nxt.raw}", now, tz, times)
                    end = nxt.end
                    i += 1
                except CommandError:
                    pass
            if due is None:
                try:
                    due = parse_when(value, now, tz, times)
                except CommandError as e:
                    next_unread, next_error = value, e.code
            if due is not None:
                opts[field] = due
        spans.append((tok.start, end))
    notes = _strip_without(args, spans, rest)
    if not notes:
        raise CommandError("log_needs_notes", client=_client_param(ref))
    if len(notes) > NOTES_MAX:
        raise CommandError("notes_too_long", length=len(notes), max=NOTES_MAX)
    return LogEntry(
        client_ref=ref,
        notes=notes,
        needs=tuple(needs),
        channel=opts.get("channel"),  # type: ignore[arg-type]
        trust=opts.get("trust"),  # type: ignore[arg-type]
        satisfaction=opts.get("satisfaction"),  # type: ignore[arg-type]
        risk=opts.get("risk"),  # type: ignore[arg-type]
        next_due=opts.get("next"),  # type: ignore[arg-type]
        next_text=None,
        next_unread=next_unread,
        next_error=next_error,
        warnings=tuple(warnings),
        outcome=opts.get("outcome"),  # type: ignore[arg-type]
        strengths=tuple(strengths),
    )


# ---------------------------------------------------------------- /status


def parse_status(args: str) -> StatusUpdate:
    """`<client> [trust=…] [sat=…] [risk=…] [#tag…] [-#tag…]`; nothing after the client =
    show the status. `#tag` adds a tag, `-#tag` clears one (a risk tag no longer true)."""
    ref, rest = parse_client_ref(args, command="status")
    opts: dict[str, object] = {}
    extra: list[str] = []
    add: list[str] = []
    remove: list[str] = []
    for tok in _tokenize(args, rest):
        raw = tok.raw
        if raw[:2] in ("-#", "-＃", "−#") or _is_tag(tok):
            target = remove if raw[:1] in ("-", "−") else add
            tag = unicodedata.normalize("NFKC", raw.lstrip("-−")[1:]).strip().rstrip(_TRAIL_PUNCT)
            if not tag:
                raise CommandError("empty_tag", command="status")
            if len(tag) > TAG_MAX:
                raise CommandError("tag_too_long", tag=tag, max=TAG_MAX)
            if tag not in target:
                target.append(tag)
            if len(add) > TAGS_PER_CLIENT_MAX:
                raise CommandError("too_many_tags", max=TAGS_PER_CLIENT_MAX, have=len(add))
            continue
        kv = _option(tok, {**_STATUS_KEYS, **_VALUE_KEYS}) or _split_kv(tok)
        if kv is None:
            extra.append(tok.raw)
            continue
        key, value = kv
        field = _STATUS_KEYS.get(key) or _VALUE_KEYS.get(key)
        if field is None:
            raise CommandError(
                "unknown_key", key=key, known=_CMD_EXAMPLE_KEYS["status"], command="status"
            )
        if field in opts:
            raise CommandError("duplicate_option", key=key)
        if not value:
            raise CommandError("empty_value", key=key, command="status")
        if field == "payer":
            payer = _PAYERS.get(_norm(value))
            if payer is None:
                raise CommandError("bad_payer", value=value)
            opts[field] = payer
        elif field == "capacity":
            v = unicodedata.normalize("NFKC", value).strip()
            if not (v.isascii() and v.isdigit() and 1 <= int(v) <= 5):
                raise CommandError("bad_capacity", value=value)
            opts[field] = int(v)
        else:
            opts[field] = _risk(value) if field == "risk" else _score(field, value)
    if extra:
        raise CommandError("status_extra_words", client=_client_param(ref), words=" ".join(extra))
    return StatusUpdate(
        ref,
        cast("int | None", opts.get("trust")),
        cast("int | None", opts.get("satisfaction")),
        cast("Risk | None", opts.get("risk")),
        tuple(add),
        tuple(remove),
        payer=cast("str | None", opts.get("payer")),
        capacity=cast("int | None", opts.get("capacity")),
    )


# ---------------------------------------------------------------- /goal, /plan


def parse_goal(args: str) -> Goal:
    """`<client> <text>`: a long-term goal."""
    ref, rest = parse_client_ref(args, command="goal")
    text = args[rest:].strip()
    if not text:
        raise CommandError("goal_needs_text", client=_client_param(ref))
    if len(text) > TEXT_MAX:
        raise CommandError("text_too_long", length=len(text), max=TEXT_MAX)
    return Goal(ref, text)


def parse_plan(args: str, now: datetime, tz: tzinfo, times: DayTimes | None = None) -> PlanSpec:
    """`<client> <when> <what>`; `<when>` is one token or two (`12-01 14:30`, `下周一 15:00`)."""
    ref, rest = parse_client_ref(args, command="plan")
    toks = _tokenize(args, rest)
    if not toks:
        raise CommandError("plan_needs_when", client=_client_param(ref))
    t1 = toks[0]
    due: datetime | None = None
    end = t1.end
    if len(toks) > 1 and not t1.quoted and not toks[1].quoted:
        try:
            due = parse_when(f"{t1.raw} {toks[1].raw}", now, tz, times)
            end = toks[1].end
        except CommandError as e:
            if e.code == "past_when":
                raise
    if due is None:
        due = parse_when(t1.value, now, tz, times)
    text = args[end:].strip()
    if not text:
        raise CommandError(
            "plan_needs_text",
            client=_client_param(ref),
            when=" ".join(args[t1.start : end].split()),
        )
    if len(text) > TEXT_MAX:
        raise CommandError("text_too_long", length=len(text), max=TEXT_MAX)
    return PlanSpec(ref, due, text)


# ---------------------------------------------------------------- /lang

_LANGS = {
    "zh": "zh",
    "cn": "zh",
    "zh-cn": "zh",
    "zh-hans": "zh",
    "zh_cn": "zh",
    "chinese": "zh",
    "中文": "zh",
    "汉语": "zh",
    "简体": "zh",
    "简体中文": "zh",
    "普通话": "zh",
    "en": "en",
    "eng": "en",
    "english": "en",
    "英文": "en",
    "英语": "en",
}


def parse_lang(args: str) -> str | None:
    """`zh|cn|中文|en|english|英文` → "zh" / "en"; empty → None (show the choice)."""
    v = _norm(args).strip("\"'“”「」")
    if not v:
        return None
    lang = _LANGS.get(v) or _LANGS.get(v.replace("_", "-"))
    if lang is None:
        raise CommandError("bad_lang", value=args.strip())
    return lang


# ---------------------------------------------------------------- /phq9 /gad7

_SCORE_COMMANDS = {9: "phq9", 7: "gad7"}


def parse_scores(text: str, n: int, command: str | None = None) -> tuple[int, ...] | None:
    """The answers AFTER the client: `2 2 1 …`, `2,2,1,…` or `221…`; n answers 0–3.

    Empty → None (ask with buttons). Raises `bad_score` (item is 1-based) / `scores_count`.
    """
    command = command or _SCORE_COMMANDS.get(n, "phq9")
    s = unicodedata.normalize("NFKC", text).strip()
    if not s:
        return None
    parts = [p for p in re.split(r"[\s,，、;；/|]+", s) if p]
    if len(parts) == 1 and len(parts[0]) > 1:
        parts = list(parts[0])
    answers: list[int] = []
    for idx, p in enumerate(parts, start=1):
        if not (p.isascii() and p.isdigit() and 0 <= int(p) <= 3):
            raise CommandError("bad_score", item=idx, value=p, command=command)
        answers.append(int(p))
    if len(answers) != n:
        raise CommandError("scores_count", expected=n, got=len(answers), command=command)
    return tuple(answers)


def parse_screening(args: str, n: int, command: str | None = None) -> ScreeningSpec:
    """`/phq9 <client> [answers]` in full: the client, then `parse_scores` of the rest."""
    command = command or _SCORE_COMMANDS.get(n, "phq9")
    ref, rest = parse_client_ref(args, command=command)
    return ScreeningSpec(ref, parse_scores(args[rest:], n, command))


#: `/team` sub-commands, in either language (the zh help shows the Chinese words)
TEAM_SUBCOMMANDS = {
    "list": "list",
    "列表": "list",
    "名单": "list",
    "handover": "handover",
    "移交": "handover",
    "deactivate": "deactivate",
    "停用": "deactivate",
    "reactivate": "reactivate",
    "恢复": "reactivate",
    "invites": "invites",
    "邀请": "invites",
    "revoke": "revoke",
    "作废": "revoke",
}


def team_subcommand(word: str) -> str | None:
    """`列表` / `list` → "list"; None when the word is not a `/team` sub-command."""
    return TEAM_SUBCOMMANDS.get(word.strip().lower())
