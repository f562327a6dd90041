"""User-input errors: every problem with what a counsellor typed is a CommandError.

`code` names a template `templates/<lang>/errors/<code>.j2`; `params` are the plain
values (str / int) that template uses. The bot renders them; the domain never formats text.
"""

from __future__ import annotations

ERROR_CODES: frozenset[str] = frozenset(
    {
        # client references and names
        "missing_client",  # command
        "unclosed_quote",  # quote, command
        "missing_name",  # (none)
        "name_too_long",  # length, max
        "name_is_number",  # name
        "name_bad_start",  # name, char
        "name_bad_char",  # name
        "new_extra_words",  # name, extra
        # options
        "unknown_key",  # key, known, command
        "empty_tag",  # command
        "tag_too_long",  # tag, max
        "too_many_tags",  # max, have
        "empty_value",  # key, command
        "duplicate_option",  # key
        "value_too_long",  # key, max
        "bad_trust",  # value
        "bad_satisfaction",  # value
        "bad_risk",  # value
        "bad_channel",  # value
        "bad_outcome",  # value (issue 15: /log outcome=)
        "bad_payer",  # value (practice mode: /status pay=)
        "bad_capacity",  # value (practice mode: /status capacity=)
        "practice_only",  # (none): pay=/capacity= on campus
        # roster import (domain.roster, services.roster)
        "roster_no_header",  # (none)
        "roster_empty",  # (none)
        "roster_too_many",  # rows, max
        "roster_too_big",  # max_mb
        "roster_unreadable",  # (none)
        "roster_not_a_table",  # name
        # /log, /status, /goal, /plan
        "log_needs_notes",  # client
        "notes_too_long",  # length, max
        "status_extra_words",  # client, words
        "goal_needs_text",  # client
        "text_too_long",  # length, max
        "plan_needs_when",  # client
        "plan_needs_text",  # client, when
        # recurring /plan (domain.recurrence)
        "bad_every",  # value
        "bad_until",  # value
        "until_before_start",  # until, first
        # <when>
        "bad_when",  # text
        "past_when",  # text, when
        # /lang
        "bad_lang",  # value
        # /phq9 /gad7
        "scores_count",  # expected, got, command
        "bad_score",  # item, value, command
        # /settings (domain.schedule)
        "bad_clock",  # value
        "bad_quiet",  # value
        "bad_tz",  # value
    }
)


class CommandError(Exception):
    """A problem with user input. `code` picks the message template, `params` fill it."""

    def __init__(self, code: str, /, **params: object) -> None:
        super().__init__(code, params)
        self.code: str = code
        self.params: dict[str, object] = dict(params)

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.code}({inner})"

    def __repr__(self) -> str:
        return f"CommandError({self})"

    def __reduce__(self) -> tuple[object, ...]:  # keep picklable despite keyword params
        return (_rebuild, (self.code, self.params))


def _rebuild(code: str, params: dict[str, object]) -> CommandError:
    return CommandError(code, **params)
