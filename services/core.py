"""The adapters' single import of the conversation use cases (issue 12).

The use cases live in cohesive modules — services.invites (counsellors, invites),
services.clients (resolution, /new, /map, the caseload list), services.logs (/log),
services.records (/status, /goal, /plan), services.screenings (/phq9, /gad7),
services.parked (parked input and its resumption), services.errors. Services and tests import
those modules; this module only re-exports them for bot/, whose handlers are being rewritten
in parallel (so their `core.…` call sites stay as they are). Nothing is defined here.
"""

from services.clients import (
    AWAIT_TTL,
    PENDING_TTL,
    AlreadyHandled,
    CaseloadRow,
    Choice,
    ClientAdded,
    MapView,
    add_client,
    await_text_for,
    caseload,
    client_of,
    map_of,
    relationship_map,
    take_awaited_text,
)
from services.errors import NotYours, UnknownClient
from services.invites import (
    INVITE_TTL,
    create_invite,
    ensure_admin,
    find_counsellor,
    hash_code,
    inviter_of,
    redeem_invite,
    remember_telegram_language,
    set_language,
)
from services.logs import FOLLOW_UP_CHOICES, LogEntry, Logged, log_conversation, set_follow_up
from services.parked import (
    RECENT_BUTTONS,
    ParkedNote,
    Resumed,
    SameName,
    cancel_pending,
    find_for_note,
    new_anyway,
    new_client_with_note,
    park_command,
    park_note,
    parked_note,
    pending_kind,
    pending_new_client_note,
    resume_pending,
    search_for_note,
    take_parked_command,
)
from services.records import PlanAdded, SeriesStopped, StatusResult, add_goal, add_plan, set_status
from services.screenings import Questionnaire, ScreeningSaved, questionnaire_step, screening

__all__ = [
    "AWAIT_TTL", "FOLLOW_UP_CHOICES", "INVITE_TTL", "PENDING_TTL", "RECENT_BUTTONS", "AlreadyHandled",
    "CaseloadRow", "Choice", "ClientAdded", "LogEntry", "Logged", "MapView", "NotYours", "ParkedNote",
    "PlanAdded", "Questionnaire", "Resumed", "SameName", "ScreeningSaved", "SeriesStopped", "StatusResult",
    "UnknownClient", "add_client", "add_goal", "add_plan", "await_text_for", "cancel_pending", "caseload",
    "client_of", "create_invite", "ensure_admin", "find_counsellor", "find_for_note", "hash_code",
    "inviter_of", "log_conversation", "map_of", "new_anyway", "new_client_with_note", "park_command",
    "park_note", "parked_note", "pending_kind", "pending_new_client_note", "questionnaire_step",
    "redeem_invite", "relationship_map", "remember_telegram_language", "resume_pending", "screening",
    "search_for_note", "set_follow_up", "set_language", "set_status", "take_awaited_text",
    "take_parked_command",
]
