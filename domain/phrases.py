"""Risk phrases (风险用语): find crisis language in free text. Pure, no I/O beyond the rules.

A match never labels anyone: it only makes the bot ask the counsellor (safety check, PHQ-9 or
"not a risk" with a reason). The list is data (`domain/default_phrases.toml`, plus the rule
file's `[[risk_phrases]]` and an optional `phrases_file`), matched on normalised text:

- NFKC (full-width letters, digits and punctuation → half-width), case folded;
- common traditional characters → simplified (a small table: the characters of the phrases);
- Chinese (non-Latin) phrases: every space and punctuation mark removed from both sides, so
  "不 想 活" and "不-想-活" match 不想活;
- Latin phrases: whole words on text whose non-letters became single spaces ("pills" does not
  match "spills"; "end it all" matches "End  it ALL!");
- `unless`: longer expressions around a phrase that are known not to be a risk (想死你了).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# traditional → simplified, for the characters our phrases use (cheap, not a full converter)
_T2S = str.maketrans(
    {
        "殺": "杀",
        "樓": "楼",
        "藥": "药",
        "遺": "遗",
        "書": "书",
        "脫": "脱",
        "沒": "没",
        "絕": "绝",
        "結": "结",
        "傷": "伤",
        "輕": "轻",
        "尋": "寻",
        "離": "离",
        "開": "开",
        "這": "这",
        "個": "个",
        "們": "们",
        "說": "说",
        "見": "见",
        "別": "别",
        "為": "为",
        "會": "会",
        "還": "还",
        "過": "过",
        "後": "后",
        "來": "来",
        "對": "对",
        "難": "难",
        "願": "愿",
        "劑": "剂",
        "燒": "烧",
        "農": "农",
        "橋": "桥",
        "劃": "划",
        "殘": "残",
        "麼": "么",
        "嗎": "吗",
        "覺": "觉",
        "讓": "让",
        "無": "无",
        "義": "义",
        "於": "于",
        "與": "与",
        "憂": "忧",
        "鬱": "郁",
        "愛": "爱",
        "謝": "谢",
        "囑": "嘱",
        "攢": "攒",
        "弔": "吊",
        "貓": "猫",
        "將": "将",
        "應": "应",
        "頭": "头",
        "時": "时",
        "間": "间",
        "問": "问",
        "題": "题",
        "點": "点",
        "話": "话",
        "聽": "听",
        "氣": "气",
        "熱": "热",
        "壓": "压",
        "緒": "绪",
        "極": "极",
        "聯": "联",
        "繫": "系",
        "係": "系",
        "錢": "钱",
        "學": "学",
        "習": "习",
        "體": "体",
        "麗": "丽",
        "從": "从",
        "裡": "里",
        "裏": "里",
        "邊": "边",
        "長": "长",
        "條": "条",
        "車": "车",
        "經": "经",
        "歲": "岁",
        "號": "号",
        "電": "电",
        "腦": "脑",
        "媽": "妈",
        "爺": "爷",
        "兒": "儿",
        "歡": "欢",
        "樂": "乐",
        "東": "东",
        "準": "准",
        "備": "备",
        "帶": "带",
        "飛": "飞",
        "隨": "随",
        "處": "处",
        "幾": "几",
        "鐘": "钟",
        "萬": "万",
        "麵": "面",
        "飯": "饭",
    }
)

_SEP = re.compile(r"[\W_]+", re.UNICODE)  # spaces, punctuation, symbols other than word chars
_LATIN_WORD = re.compile(r"[a-z0-9']+")


def normalise(text: str) -> str:
    """NFKC, case folded, traditional → simplified (the table above)."""
    return unicodedata.normalize("NFKC", text).casefold().translate(_T2S)


def _dense(text: str) -> str:
    """For Chinese phrases: no spacing or punctuation at all (emoji kept)."""
    return "".join(ch for ch in text if not (ch.isspace() or unicodedata.category(ch)[0] in "PZ"))


def _spaced(text: str) -> str:
    """For Latin phrases: words separated by single spaces, apostrophes kept (don't)."""
    text = text.replace("’", "'")
    return " ".join(_LATIN_WORD.findall(text))


@dataclass(frozen=True, slots=True)
class Phrase:
    text: str  # as listed (shown to the counsellor)
    kind: str = "ideation"
    unless: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    phrase: str  # the listed phrase
    kind: str
    found: str  # the text as written in the note (up to 40 characters around it)


def _is_latin(text: str) -> bool:
    return all(ch.isascii() for ch in text)


class PhraseMatcher:
    """Compiled once per rule base; `find(text)` lists the phrases found, each once, in the
    order they occur (longest first where two start at the same place)."""

    __slots__ = ("phrases", "_dense", "_latin")

    def __init__(self, phrases: Iterable[Phrase]) -> None:
        seen: dict[str, Phrase] = {}
        for p in phrases:
            key = normalise(p.text).strip()
            if _is_latin(key) and any(ch.isalnum() for ch in key):
                key = _spaced(key)  # "self-harm" and "self harm" are one phrase
            if key and key not in seen:
                seen[key] = p
        self.phrases = tuple(seen.values())
        dense: list[tuple[str, Phrase, tuple[str, ...]]] = []
        latin: list[tuple[re.Pattern[str], Phrase, tuple[str, ...]]] = []
        for key, p in seen.items():
            if _is_latin(key) and any(ch.isalnum() for ch in key):
                words = _spaced(key)
                pattern = re.compile(rf"(?<![a-z0-9']){re.escape(words)}(?![a-z0-9'])")
                latin.append((pattern, p, tuple(_spaced(normalise(u)) for u in p.unless)))
            else:
                dense.append((_dense(key), p, tuple(_dense(normalise(u)) for u in p.unless)))
        dense.sort(key=lambda t: -len(t[0]))
        latin.sort(key=lambda t: -len(t[0].pattern))
        self._dense = tuple(dense)
        self._latin = tuple(latin)

    def find(self, text: str) -> tuple[Match, ...]:
        if not text:
            return ()
        norm = normalise(text)
        hits: list[tuple[int, int, Phrase]] = []
        d = _dense(norm)
        taken: list[tuple[int, int]] = []
        for key, p, unless in self._dense:
            start = d.find(key)
            while start != -1:
                end = start + len(key)
                if not _inside_unless(d, start, end, unless) and not _overlaps(taken, start, end):
                    hits.append((start, 0, p))
                    taken.append((start, end))
                start = d.find(key, start + 1)
        s = _spaced(norm)
        taken_l: list[tuple[int, int]] = []
        for pattern, p, unless in self._latin:
            for m in pattern.finditer(s):
                if not _inside_unless(s, m.start(), m.end(), unless) and not _overlaps(
                    taken_l, m.start(), m.end()
                ):
                    hits.append((m.start(), 1, p))
                    taken_l.append((m.start(), m.end()))
        hits.sort(key=lambda h: (h[1], h[0]))
        out: list[Match] = []
        names: set[str] = set()
        for _, _, p in hits:
            if p.text in names:
                continue
            names.add(p.text)
            out.append(Match(phrase=p.text, kind=p.kind, found=_excerpt(text, p.text)))
        return tuple(out)


def _overlaps(taken: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(start < e and s < end for s, e in taken)


def _inside_unless(hay: str, start: int, end: int, unless: tuple[str, ...]) -> bool:
    for u in unless:
        if not u:
            continue
        i = hay.find(u, max(0, end - len(u)))
        while i != -1 and i <= start:
            if i + len(u) >= end:
                return True
            i = hay.find(u, i + 1)
    return False


def _excerpt(text: str, phrase: str, width: int = 40) -> str:
    flat = " ".join(text.split())
    i = normalise(flat).find(normalise(phrase))
    if i == -1:
        return flat if len(flat) <= width else flat[: width - 1] + "…"
    lo = max(0, i - (width - len(phrase)) // 2)
    hi = min(len(flat), lo + width)
    out = flat[lo:hi]
    return ("…" if lo > 0 else "") + out + ("…" if hi < len(flat) else "")
