"""The right key or no start (issue 14): the key check, a missing or readable key file,
owner-only database files, `python -m bot rotate-key`.

The refusals go through `bot.__main__.main` exactly as an operator meets them: one line
on stderr and exit status 2, and nothing written."""

from __future__ import annotations

import logging
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bootstrap.database import open_database
from bootstrap.settings import ConfigError, Settings
from storage import Cipher
from storage.keycheck import KEY_CHECK

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
NOTE = "周末在打工, 挂科 3 门"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if (
            name.startswith(("TELEGRAM_", "DATABASE_", "CAREMAP_"))
            and name != "CAREMAP_TEST_POSTGRES_URL"
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env
    old = os.umask(0o022)  # a typical operator umask: the code must not rely on it
    yield
    os.umask(old)


def _settings(url: str, key: str | None = None, admins=frozenset()) -> Settings:
    return Settings(token="1:x", database_url=url, secret_key=key, admin_ids=frozenset(admins))


def _seed(settings: Settings) -> None:
    db = open_database(settings)
    try:
        with db.uow() as uow:
            c = uow.counsellors.add(1001, "Li", True, NOW)
            repo = uow.clients_of(c.id)
            records = uow.records_of(c.id)
            client = repo.add("王芳", ["贫困生"], "2025001", None, None, NOW)
            records.add_interaction(client.id, NOW, "face", NOTE, NOW)
            records.add_need(client.id, "学业辅导", True, None, NOW)
            records.add_plan(client.id, "short", "看看辅导计划的进展", NOW, NOW)
    finally:
        db.dispose()


def _read_note(settings: Settings) -> str:
    db = open_database(settings)
    try:
        with db.uow(write=False) as uow:
            c = uow.counsellors.get_by_telegram_id(1001)
            repo = uow.clients_of(c.id)
            records = uow.records_of(c.id)
            return records.relationship_map(repo.list()[0].id).interactions[0].notes
    finally:
        db.dispose()


def _run_main(monkeypatch, capsys, args: list[str], **env: str) -> tuple[int, str, str]:
    from bot.__main__ import main

    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:x")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    try:
        rc = main(args)
    finally:
        os.umask(0o022)
    out = capsys.readouterr()
    return rc, out.out, out.err


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'caremap.db'}"


def test_a_different_key_after_data_exists_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    right, wrong = Cipher.generate_key(), Cipher.generate_key()
    _seed(_settings(_url(tmp_path), right))
    size = (tmp_path / "caremap.db").stat().st_size

    rc, _, err = _run_main(
        monkeypatch, capsys, [], DATABASE_URL=_url(tmp_path), CAREMAP_SECRET_KEY=wrong
    )

    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "CAREMAP_SECRET_KEY is not the key this database was encrypted with" in lines[0]
    assert wrong not in err and right not in err
    # nothing was written under the wrong key: the right one still reads everything
    assert (tmp_path / "caremap.db").stat().st_size == size
    assert _read_note(_settings(_url(tmp_path), right)) == NOTE


def test_the_key_check_is_stored_at_first_start_and_not_readable_without_the_key(tmp_path):
    key = Cipher.generate_key()
    db = open_database(_settings(_url(tmp_path), key))
    try:
        with db.engine.connect() as conn:
            token = conn.exec_driver_sql(
                "SELECT value FROM meta WHERE name = ?", (KEY_CHECK,)
            ).scalar()
    finally:
        db.dispose()
    assert token and "caremap" not in token
    Cipher(key).decrypt(token)


def test_a_wrong_key_is_refused_on_a_database_from_before_the_key_check(tmp_path):
    right = Cipher.generate_key()
    _seed(_settings(_url(tmp_path), right))
    db = open_database(_settings(_url(tmp_path), right))
    with db.engine.begin() as conn:  # as a database written before issue 14 would be
        conn.exec_driver_sql("DELETE FROM meta")
    db.dispose()
    with pytest.raises(ConfigError, match="not the key this database was encrypted with"):
        open_database(_settings(_url(tmp_path), Cipher.generate_key()))
    # the right key is accepted and gets its check row back
    assert _read_note(_settings(_url(tmp_path), right)) == NOTE


def test_a_missing_key_file_with_data_present_is_refused_and_not_regenerated(
    tmp_path, monkeypatch, capsys
):
    _seed(_settings(_url(tmp_path)))  # no CAREMAP_SECRET_KEY: the key file is generated
    key_file = tmp_path / "caremap.db.key"
    assert key_file.exists()
    key_file.unlink()

    rc, _, err = _run_main(monkeypatch, capsys, [], DATABASE_URL=_url(tmp_path))

    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"the key file {key_file} is missing" in lines[0]
    assert "holds data" in lines[0]
    assert not key_file.exists()  # never silently a new key beside old data


def test_a_key_file_readable_by_others_is_warned_about_in_one_line(tmp_path, caplog):
    _seed(_settings(_url(tmp_path)))
    key_file = tmp_path / "caremap.db.key"
    os.chmod(key_file, 0o644)
    with caplog.at_level(logging.WARNING, logger="caremap"):
        db = open_database(_settings(_url(tmp_path)))
        db.dispose()
    warnings = [
        r.getMessage() for r in caplog.records if "readable by other users" in r.getMessage()
    ]
    assert warnings == [
        f"the key file {key_file} is readable by other users (mode 0644); make it owner-only: chmod 600 {key_file}"
    ]
    caplog.clear()
    os.chmod(key_file, 0o600)
    with caplog.at_level(logging.WARNING, logger="caremap"):
        open_database(_settings(_url(tmp_path))).dispose()
    assert not [r for r in caplog.records if "readable" in r.getMessage()]


def test_database_and_wal_are_created_owner_only(tmp_path):
    os.umask(0o022)  # even under a permissive umask
    db = open_database(_settings(_url(tmp_path), Cipher.generate_key()))
    try:
        with db.uow() as uow:
            uow.counsellors.add(1001, "Li", True, NOW)
        wal = tmp_path / "caremap.db-wal"
        assert wal.exists()
        for path in (tmp_path / "caremap.db", wal):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    finally:
        db.dispose()


def test_an_existing_world_readable_database_is_made_owner_only(tmp_path, caplog):
    key = Cipher.generate_key()
    _seed(_settings(_url(tmp_path), key))
    os.chmod(tmp_path / "caremap.db", 0o644)
    with caplog.at_level(logging.WARNING, logger="caremap"):
        open_database(_settings(_url(tmp_path), key)).dispose()
    assert stat.S_IMODE((tmp_path / "caremap.db").stat().st_mode) == 0o600
    assert any("made it owner-only" in r.getMessage() for r in caplog.records)


def test_python_m_bot_sets_an_owner_only_umask(tmp_path, monkeypatch, capsys):
    from bot.__main__ import main

    os.umask(0o022)
    main(["--help"])
    try:
        assert os.umask(0o022) == 0o077
    finally:
        os.umask(0o022)
    capsys.readouterr()


# -- rotate-key --------------------------------------------------------------------------


def test_rotate_key_with_a_key_file(tmp_path, monkeypatch, capsys):
    _seed(_settings(_url(tmp_path)))
    key_file = tmp_path / "caremap.db.key"
    old = key_file.read_text().strip()

    rc, out, err = _run_main(monkeypatch, capsys, ["rotate-key"], DATABASE_URL=_url(tmp_path))

    assert rc == 0, err
    new = key_file.read_text().strip()
    assert new != old and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "re-encrypted" in out and str(key_file) in out and new not in out
    assert not (tmp_path / "caremap.db.key.new").exists()
    assert _read_note(_settings(_url(tmp_path))) == NOTE  # the new key file reads it all
    with pytest.raises(ConfigError, match="not the key"):
        open_database(_settings(_url(tmp_path), old))
    raw = (tmp_path / "caremap.db").read_bytes()
    assert NOTE.encode() not in raw


def test_rotate_key_with_an_environment_key(tmp_path, monkeypatch, capsys):
    old, new = Cipher.generate_key(), Cipher.generate_key()
    _seed(_settings(_url(tmp_path), old))

    rc, _, err = _run_main(
        monkeypatch, capsys, ["rotate-key"], DATABASE_URL=_url(tmp_path), CAREMAP_SECRET_KEY=old
    )
    assert rc == 2 and "CAREMAP_NEW_SECRET_KEY" in err and len(err.strip().splitlines()) == 1
    assert _read_note(_settings(_url(tmp_path), old)) == NOTE  # nothing changed

    rc, out, err = _run_main(
        monkeypatch,
        capsys,
        ["rotate-key"],
        DATABASE_URL=_url(tmp_path),
        CAREMAP_SECRET_KEY=old,
        CAREMAP_NEW_SECRET_KEY=new,
    )
    assert rc == 0, err
    assert new not in out and old not in out
    assert _read_note(_settings(_url(tmp_path), new)) == NOTE
    with pytest.raises(ConfigError, match="not the key"):
        open_database(_settings(_url(tmp_path), old))


def test_a_rotation_that_fails_midway_keeps_the_old_key_and_its_check(
    tmp_path, monkeypatch, capsys
):
    from storage import keycheck

    _seed(_settings(_url(tmp_path)))
    key_file = tmp_path / "caremap.db.key"
    old = key_file.read_text().strip()
    calls = {"n": 0}
    real = Cipher.encrypt

    def failing(self, plaintext):  # the third field re-encrypted fails (a crash midway)
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk on fire")
        return real(self, plaintext)

    monkeypatch.setattr(keycheck.Cipher, "encrypt", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        _run_main(monkeypatch, capsys, ["rotate-key"], DATABASE_URL=_url(tmp_path))
    monkeypatch.setattr(keycheck.Cipher, "encrypt", real)

    assert key_file.read_text().strip() == old
    assert not (tmp_path / "caremap.db.key.new").exists()
    assert _read_note(_settings(_url(tmp_path))) == NOTE  # still the old key's data and check


def test_a_start_after_a_rotation_that_committed_but_did_not_move_the_key_file(tmp_path, caplog):
    from storage.keycheck import rotate_key

    _seed(_settings(_url(tmp_path)))
    key_file = tmp_path / "caremap.db.key"
    new = Cipher.generate_key()
    (tmp_path / "caremap.db.key.new").write_text(new + "\n")
    db = open_database(_settings(_url(tmp_path)))
    try:
        # the stale-.new cleanup ran at this start (the rotation had not committed yet)
        assert not (tmp_path / "caremap.db.key.new").exists()
        (tmp_path / "caremap.db.key.new").write_text(new + "\n")
        rotate_key(db, Cipher(new))  # committed; "crash" before os.replace
    finally:
        db.dispose()
    with caplog.at_level(logging.WARNING, logger="caremap"):
        assert _read_note(_settings(_url(tmp_path))) == NOTE
    assert key_file.read_text().strip() == new
    assert any("interrupted key rotation" in r.getMessage() for r in caplog.records)


def test_the_key_check_on_postgresql(pg_schema_url):
    right = Cipher.generate_key()
    _seed(_settings(pg_schema_url, right))
    with pytest.raises(ConfigError, match="CAREMAP_SECRET_KEY is not the key this database"):
        open_database(_settings(pg_schema_url, Cipher.generate_key()))
    assert _read_note(_settings(pg_schema_url, right)) == NOTE


# -- backup --------------------------------------------------------------------------------


def test_backup_is_a_consistent_owner_only_copy_that_restores(tmp_path, monkeypatch, capsys):
    import shutil

    live = tmp_path / "live"
    live.mkdir()
    url = f"sqlite:///{live / 'caremap.db'}"
    _seed(_settings(url))  # key file beside the database
    running = open_database(_settings(url))  # the bot is running: the newest note is in the -wal
    try:
        with running.uow() as uow:
            c = uow.counsellors.get_by_telegram_id(1001)
            repo = uow.clients_of(c.id)
            records = uow.records_of(c.id)
            records.add_interaction(repo.list()[0].id, NOW, "chat", "在图书馆碰到", NOW)
        assert (live / "caremap.db-wal").stat().st_size > 0
        target = tmp_path / "backups" / "caremap-2026-11-28.db"
        rc, out, err = _run_main(monkeypatch, capsys, ["backup", str(target)], DATABASE_URL=url)
    finally:
        running.dispose()

    assert rc == 0, err
    assert f"backup written to {target}" in out and "1 clients" in out
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert (
        not list(target.parent.glob("*.tmp"))
        and not target.with_name(target.name + "-wal").exists()
    )
    assert NOTE.encode() not in target.read_bytes()

    # restore as README says: the copy becomes caremap.db beside the same key
    restored = tmp_path / "restored"
    restored.mkdir()
    shutil.copy(target, restored / "caremap.db")
    shutil.copy(live / "caremap.db.key", restored / "caremap.db.key")
    assert _read_note(_settings(f"sqlite:///{restored / 'caremap.db'}")) == "在图书馆碰到"
    # …and without the right key the copy is refused, not silently re-keyed
    (restored / "caremap.db.key").unlink()
    with pytest.raises(ConfigError, match="is missing"):
        open_database(_settings(f"sqlite:///{restored / 'caremap.db'}"))


def test_backup_refuses_postgresql_in_one_line(pg_schema_url, monkeypatch, capsys):
    key = Cipher.generate_key()
    rc, _, err = _run_main(
        monkeypatch,
        capsys,
        ["backup", "/tmp/x.db"],
        DATABASE_URL=pg_schema_url,
        CAREMAP_SECRET_KEY=key,
    )
    assert rc == 2 and "pg_dump" in err and len(err.strip().splitlines()) == 1
