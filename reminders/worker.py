"""Worker ids: unique per process (host, pid and a random part), so that a process can
recognise the rows an earlier life of itself left in "sending" and take them back at
start, instead of waiting for their leases to run out."""

from __future__ import annotations

import os
import secrets
import socket

__all__ = ["left_by_dead_process", "new_worker_id", "parse_worker_id"]


def _host() -> str:
    return (socket.gethostname() or "host").replace(":", "-")[:40]


def new_worker_id(role: str = "w") -> str:
    """`<host>:<pid>:<role>-<random>` (≤ 64 characters)."""
    return f"{_host()}:{os.getpid()}:{role[:8]}-{secrets.token_hex(4)}"


def parse_worker_id(worker: str) -> tuple[str, int, str] | None:
    host, sep, rest = worker.partition(":")
    pid_text, sep2, token = rest.partition(":")
    if not sep or not sep2 or not pid_text.isascii() or not pid_text.isdigit():
        return None
    return host, int(pid_text), token


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:  # a zombie (killed, not yet reaped) is dead for our purpose
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def left_by_dead_process(worker: str, me: str) -> bool:
    """True when `worker` ran on this host in a process that no longer runs (or is an
    earlier life of this very pid, reused after a restart). Other hosts' rows are left to
    their leases."""
    theirs, mine = parse_worker_id(worker), parse_worker_id(me)
    if theirs is None or mine is None or worker == me or theirs[0] != mine[0]:
        return False
    if theirs[1] == mine[1]:
        return True  # same pid, another random part: an earlier life of this process
    return not _alive(theirs[1])
