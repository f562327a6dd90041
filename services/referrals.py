"""Use cases for dimension 4 (价值匹配): the resource catalogue, /refer and what became of it.

A referral stores the catalogue code (so it reads in each counsellor's language) or, for a
resource not in the catalogue, the counsellor's own words. Statuses: referred → accepted /
completed / declined; the latest status and when it changed are kept on the referral.
A referral is not a contact: it adds no interaction and leaves the tiers alone.
Every client and referral is looked up through the counsellor-scoped repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain import grammar
from domain.errors import CommandError
from domain.model import Client, Counsellor, Referral
from domain.resources import Catalogue, Resource, load_resources
from domain.rules import RuleBase
from services.clients import (
    PENDING_TTL,
    AlreadyHandled,
    Choice,
    get_owned,
    on_client,
)
from services.errors import NotYours
from services.undo import record_undo
from storage.db import Database
from storage.uow import UnitOfWork

STATUSES = ("referred", "accepted", "completed", "declined")
ACTIONS = {"a": "accepted", "c": "completed", "d": "declined"}
RESOURCE_MAX = 100
SUGGEST_MAX = 6
_QUOTES = {'"': '"', "“": "”", "「": "」", "『": "』", "'": "'"}


@dataclass(frozen=True)
class Referred:
    """A referral as shown: `resource` is the catalogue entry, None for free text."""

    client: Client
    referral: Referral
    resource: Resource | None
    changed: bool = True


@dataclass(frozen=True)
class Suggestions:
    """`/refer <client>` without a resource: catalogue entries matching the client's needs."""

    client: Client
    pending_id: int
    resources: list[Resource]


@dataclass(frozen=True)
class Refer:
    client_ref: grammar.ClientRef
    text: str  # "" when no resource was given
    quoted: bool


def catalogue() -> Catalogue:
    """The shipped resource catalogue (the composition root loads it once: bootstrap)."""
    return load_resources()


def parse_refer(args: str) -> Refer:
    """`<client> <resource…>`; a "quoted" resource is matched exactly, never by prefix."""
    ref, rest = grammar.parse_client_ref(args, command="refer")
    text = " ".join(args[rest:].split())
    quoted = False
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] == _QUOTES[text[0]]:
        text, quoted = " ".join(text[1:-1].split()), True
    if len(text) > RESOURCE_MAX:
        raise CommandError("text_too_long", length=len(text), max=RESOURCE_MAX)
    return Refer(ref, text, quoted)


def _pick(cat: Catalogue, spec: Refer) -> Resource | None:
    """The catalogue entry the text names; None for free text. Ambiguous → CommandError."""
    found = cat.lookup(spec.text, prefix=not spec.quoted)
    if found.candidates:
        raise CommandError("resource_ambiguous", text=spec.text, candidates=list(found.candidates))
    return found.resource


def _client_param(ref: grammar.ClientRef) -> str:
    return f'"{ref.text}"' if any(ch.isspace() for ch in ref.text) else ref.text


def _add(
    uow: UnitOfWork,
    actor: Counsellor,
    client: Client,
    resource: Resource | None,
    text: str,
    now: datetime,
) -> Referred:
    stored = resource.code if resource is not None else text
    referral = uow.records_of(actor.id).add_referral(client.id, stored, "referred", now)
    record_undo(
        uow,
        actor,
        "referral",
        {"client_id": client.id, "referral_id": referral.id, "text": stored},
        now,
    )
    return Referred(client=client, referral=referral, resource=resource)


def _suggest(
    uow: UnitOfWork, actor: Counsellor, client: Client, rules: RuleBase, cat: Catalogue
) -> list[Resource]:
    view = uow.records_of(actor.id).relationship_map(client.id, interactions_limit=0)
    if view is None or not view.needs:
        return []
    texts = [n.text for n in view.needs]
    categories: set[str] = set()
    for text in texts:
        categories.update(c.code for c in rules.classify_need(text))
    already = {r.resource for r in view.referrals if r.status != "declined"}
    return [r for r in cat.for_needs(categories, texts) if r.code not in already][:SUGGEST_MAX]


def _without_resource(
    uow: UnitOfWork,
    actor: Counsellor,
    client: Client,
    ref: str,
    now: datetime,
    rules: RuleBase,
    cat: Catalogue,
) -> Suggestions:
    found = _suggest(uow, actor, client, rules, cat)
    if not found:
        raise CommandError("refer_needs_resource", client=ref)
    pending_id = uow.pending.add(
        counsellor_id=actor.id,
        kind="refer_pick",
        payload={"client_id": client.id},
        now=now,
        expires_at=now + PENDING_TTL,
    )
    return Suggestions(client=client, pending_id=pending_id, resources=found)


def refer(
    db: Database,
    actor: Counsellor,
    args: str,
    now: datetime,
    update_id: int | None,
    rules: RuleBase,
    cat: Catalogue,
) -> Referred | Suggestions | Choice | AlreadyHandled:
    """`/refer <client> <resource>`; without a resource, suggest ones matching the needs."""
    spec = parse_refer(args)
    resource = _pick(cat, spec) if spec.text else None

    def then(uow: UnitOfWork, client: Client) -> Referred | Suggestions:
        if not spec.text:
            return _without_resource(
                uow, actor, client, _client_param(spec.client_ref), now, rules, cat
            )
        return _add(uow, actor, client, resource, spec.text, now)

    return on_client(db, actor, "refer", args, spec.client_ref, now, update_id, then)


def resume_choice(
    db: Database,
    actor: Counsellor,
    pending_id: int,
    client_id: int,
    now: datetime,
    rules: RuleBase,
    cat: Catalogue,
) -> Referred | Suggestions:
    """A client button of a parked /refer was tapped: run it, exactly once."""
    with db.uow(write=True) as uow:
        pending = uow.pending.consume(pending_id, actor.id, now)
        if pending is None or pending.kind != "choose" or pending.payload.get("cmd") != "refer":
            raise NotYours()
        client = get_owned(uow, actor, client_id)
        spec = parse_refer(pending.payload.get("args", ""))
        if not spec.text:
            return _without_resource(uow, actor, client, f"#{client.number}", now, rules, cat)
        return _add(uow, actor, client, _pick(cat, spec), spec.text, now)


def pick_suggestion(
    db: Database,
    actor: Counsellor,
    pending_id: int,
    code: str,
    now: datetime,
    cat: Catalogue,
) -> Referred:
    """A suggested resource's button was tapped: refer to it, exactly once."""
    resource = cat.get(code)
    if resource is None:
        raise NotYours()
    with db.uow(write=True) as uow:
        pending = uow.pending.consume(pending_id, actor.id, now)
        if pending is None or pending.kind != "refer_pick":
            raise NotYours()
        client = get_owned(uow, actor, int(pending.payload["client_id"]))
        return _add(uow, actor, client, resource, resource.code, now)


def set_status(
    db: Database,
    actor: Counsellor,
    referral_id: int,
    action: str,
    now: datetime,
    cat: Catalogue,
) -> Referred:
    """An Accepted / Completed / Declined button. Tapping the current status again is harmless."""
    status = ACTIONS.get(action)
    if status is None:
        raise NotYours()
    with db.uow(write=True) as uow:
        repo = uow.clients_of(actor.id)
        records = uow.records_of(actor.id)
        before = records.referral(referral_id)
        if before is None:
            raise NotYours()
        referral = records.set_referral_status(referral_id, status, now)
        client = repo.get(before.client_id)
        if referral is None or client is None:
            raise NotYours()
        if before.status != status:
            record_undo(
                uow,
                actor,
                "referral_status",
                {
                    "client_id": client.id,
                    "referral_id": referral_id,
                    "text": before.resource,
                    "old": before.status,
                },
                now,
            )
        return Referred(
            client=client,
            referral=referral,
            resource=cat.get(referral.resource),
            changed=before.status != status,
        )
