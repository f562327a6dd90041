"""The service layer's errors, in one place (issue 12).

The adapters (bot/, reminders/) catch these; each meaning has one class:

- `UnknownClient`: a client reference the counsellor typed (a name, a number) names none of
  their clients; it carries the closest names as suggestions.
- `NotYours`: a button, an id or a parked input that is not the acting counsellor's, was
  already used, or has expired — another counsellor's record is indistinguishable from a
  missing one.
- `AlertWithdrawn`: an alert's button after the alert itself is gone (the record that
  raised it was undone, or the client forgotten): nothing to acknowledge.

A rule broken by what the counsellor typed is a `domain.errors.CommandError` (it has a
template code and parameters); a redelivered update is `storage.errors.AlreadyProcessed`.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.model import Client


class ServiceError(Exception):
    """Base class of the service layer's errors."""


class UnknownClient(ServiceError, LookupError):
    """The reference `ref` names none of the counsellor's clients (`suggestions`: the
    closest ones, maybe none)."""

    def __init__(self, ref: str, suggestions: Sequence[Client]) -> None:
        super().__init__(ref)
        self.ref = ref
        self.suggestions = list(suggestions)


class NotYours(ServiceError, LookupError):
    """A button or id that does not belong to the acting counsellor (or no longer exists)."""


class AlertWithdrawn(ServiceError, LookupError):
    """The alert a button names no longer exists: withdrawn by /undo, or gone with a
    forgotten client (alert ids are never reused)."""


__all__ = ["AlertWithdrawn", "NotYours", "ServiceError", "UnknownClient"]
