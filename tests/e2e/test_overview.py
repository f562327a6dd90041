"""End to end: `/overview` sends a picture (a PNG of the expected size, drawn with a font that
has every CJK glyph on it), with the "uploading photo" chat action and a short caption."""

from __future__ import annotations

import struct

import pytest

from tests.e2e.test_core_loop import admin_ready

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_the_cjk_font_has_every_glyph_of_the_labels():
    from matplotlib.ft2font import FT2Font

    from bot.charts import chart_labels, cjk_font
    from rendering.render import default_renderer

    font = cjk_font()
    assert font is not None, (
        "fonts-noto-cjk is needed for Chinese pictures (apt-get install fonts-noto-cjk)"
    )
    charmap = FT2Font(font[1]).get_charmap()
    text = "".join(chart_labels(default_renderer(), "zh").values()) + "0123456789"
    missing = {ch for ch in text if not ch.isspace() and ord(ch) not in charmap}
    assert not missing


async def test_overview_picture(bot_env):
    admin = await admin_ready(bot_env, lang="zh-hans")
    for cmd in (
        "/new 学生A",
        "/new 学生B",
        "/status 学生B risk=high trust=2",
        "/log 学生A 聊了竞赛队 via=面谈 trust=5",
        "/plan 学生B 1h 回个电话",
    ):
        await admin.send(cmd)
        await admin.expect_message()
        if "risk=high" in cmd:  # the high-risk alert follows the reply at once
            assert "学生B" in (await admin.expect_message(contains="预警")).text
    bot_env.clock.advance(hours=2)
    await admin.send("/overview")
    photo = await admin.expect_message(contains="学生概览", skip_others=True)
    assert photo.photo is not None and photo.file_bytes
    assert (
        png_size(photo.file_bytes) == (1080, 1800) == (photo.photo["width"], photo.photo["height"])
    )
    assert "2 人" in photo.caption and "逾期跟进 1 项" in photo.caption
    assert "学生A" not in photo.caption  # counts only, no names
    actions = [c for c in bot_env.server.calls if c.method == "sendChatAction"]
    assert actions and actions[-1].params.get("action") == "upload_photo"


async def test_client_chart(bot_env):
    admin = await admin_ready(bot_env)
    await admin.send("/new 学生B")
    await admin.expect_message()
    for phq, gad, trust in (
        ("2 2 1 1 0 0 1 0 0", "1 1 1 1 1 1 1", 2),
        ("1 1 1 0 0 0 0 0 0", "1 0 0 1 0 0 0", 3),
    ):
        await admin.send(f"/phq9 学生B {phq}")
        await admin.expect_message()
        await admin.send(f"/gad7 学生B {gad}")
        await admin.expect_message()
        await admin.send(f"/status 学生B trust={trust}")
        await admin.expect_message()
        bot_env.clock.advance(days=7)
    await admin.send("/map 学生B chart")
    photo = await admin.expect_message(contains="PHQ-9", skip_others=True)
    assert photo.photo is not None and png_size(photo.file_bytes) == (1080, 1440)
    assert "2 PHQ-9, 2 GAD-7, 2 trust records" in photo.caption and "学生B" in photo.caption
    await admin.send("/map 学生B")  # without "chart" the map is text, as before
    assert "Relationship map" in (await admin.expect_message()).text


def test_the_client_chart_spans_its_records():
    """The time axis is the records' span, padded (an empty panel defaulted it to 1970, so a
    client with one trust record got ticks "01-01 07-01 01-01 …" over decades)."""
    from datetime import UTC, datetime, timedelta

    from bot.charts import time_range

    t = datetime(2026, 11, 20, 9, tzinfo=UTC)
    assert time_range([]) is None
    lo, hi = time_range([t])
    assert hi - lo == timedelta(days=14) and lo < t < hi and t - lo == hi - t
    lo, hi = time_range([t, t - timedelta(days=200)])
    assert lo == t - timedelta(days=203) and hi == t + timedelta(days=3)
