"""Rendering: every message a counsellor reads, from templates/ (zh and en), HTML-escaped.

Shared by both adapters (bot/ and reminders/); above services, below the adapters."""
