"""rendering.render.fit_message: the safety net that keeps every reply within 4,096 characters."""

from __future__ import annotations

import re

from rendering.render import MAX_MESSAGE, fit_message, visible_length


def _balanced(html_text: str) -> bool:
    stack = []
    for closing, name in re.findall(r"<(/?)([a-z]+)[^>]*>", html_text):
        if closing:
            if not stack or stack.pop() != name:
                return False
        else:
            stack.append(name)
    return not stack


def test_short_text_is_untouched():
    text = "<b>#1 学生B</b> &amp; ok"
    assert fit_message(text) == text


def test_long_text_is_cut_to_the_limit_with_tags_closed():
    cases = [
        "<b>hi</b> " + "&amp;" * 5000,
        "<b>" + "长" * 5000 + "</b>",
        "x" * 4095 + "<b>abc</b>",
        "😀" * 3000,  # two UTF-16 units each, as Telegram counts
        "<i>a<code>" + "&lt;b&gt;" * 3000 + "</code></i>",
        '<a href="https://t.me/x?start=y">' + "链" * 4100 + "</a>",
    ]
    for text in cases:
        fitted = fit_message(text)
        assert visible_length(fitted) <= MAX_MESSAGE, text[:20]
        assert fitted.endswith(("…", ">")), text[:20]
        assert "…" in fitted
        assert _balanced(fitted), fitted[-40:]
        assert not re.search(r"&[#a-z0-9]*…", fitted)  # never cut inside an entity
        assert not re.search(r"<(b|i|code|a)[^>]*></\1>", fitted)  # no empty element


def test_custom_limit():
    assert fit_message("abcdef", limit=4) == "abc…"
