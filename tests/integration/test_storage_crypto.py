from __future__ import annotations

import base64
import os
import stat

import pytest
from cryptography.fernet import Fernet

from storage import Cipher, DecryptionError, resolve_secret_key


def test_cipher_round_trip_and_randomness():
    c = Cipher(Cipher.generate_key())
    a, b = c.encrypt("我很焦虑 exams"), c.encrypt("我很焦虑 exams")
    assert a != b and "焦虑" not in a
    assert c.decrypt(a) == "我很焦虑 exams"


@pytest.mark.parametrize(
    "key", ["", "short", "x" * 44, "not base64 !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"]
)
def test_bad_key_is_a_clear_value_error(key):
    with pytest.raises(ValueError, match="CAREMAP_SECRET_KEY"):
        Cipher(key)


def test_wrong_key_raises_decryption_error_without_plaintext():
    token = Cipher(Cipher.generate_key()).encrypt("secret note")
    with pytest.raises(DecryptionError) as err:
        Cipher(Cipher.generate_key()).decrypt(token)
    assert "secret note" not in str(err.value) and token not in str(err.value)


def test_key_rotation_old_keys_still_decrypt():
    old, new = Cipher.generate_key(), Cipher.generate_key()
    token = Cipher(old).encrypt("n")
    assert Cipher(f"{new},{old}").decrypt(token) == "n"


def test_configured_key_wins(tmp_path):
    key = Cipher.generate_key()
    assert resolve_secret_key(key, f"sqlite:///{tmp_path / 'c.db'}") == (key, None)
    assert not (tmp_path / "c.db.key").exists()
    assert resolve_secret_key(key, "postgresql+psycopg://u@h/db") == (key, None)
    with pytest.raises(ValueError, match="CAREMAP_SECRET_KEY"):
        resolve_secret_key("garbage", f"sqlite:///{tmp_path / 'c.db'}")


def test_sqlite_key_file_created_once_with_0600(tmp_path):
    url = f"sqlite:///{tmp_path / 'data' / 'caremap.db'}"
    key, created = resolve_secret_key(None, url)
    path = tmp_path / "data" / "caremap.db.key"
    assert created == path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    Cipher(key)
    again, created_again = resolve_secret_key(None, url)
    assert again == key and created_again is None
    assert [p.name for p in path.parent.iterdir()] == ["caremap.db.key"]  # no temp files left


def test_corrupt_key_file_is_a_clear_error(tmp_path):
    (tmp_path / "c.db.key").write_text("nonsense\n")
    with pytest.raises(ValueError, match="c.db.key"):
        resolve_secret_key(None, f"sqlite:///{tmp_path / 'c.db'}")


def test_in_memory_sqlite_gets_an_ephemeral_key():
    key, created = resolve_secret_key(None, "sqlite://")
    Cipher(key)
    assert created is None


@pytest.mark.parametrize(
    "url", ["postgresql+psycopg://u@h/db", "postgresql://u@h/db", "postgres://u@h/db"]
)
def test_postgres_without_key_raises(url):
    with pytest.raises(ValueError, match="CAREMAP_SECRET_KEY is required with PostgreSQL"):
        resolve_secret_key(None, url)
    with pytest.raises(ValueError, match="CAREMAP_SECRET_KEY is required with PostgreSQL"):
        resolve_secret_key("  ", url)


def _tampered(token: str, at: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[at] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode("ascii")


def test_decrypt_many_reads_what_decrypt_reads():
    """The batch path (/find) gives exactly `decrypt`'s texts: every length around the AES
    block, Chinese, emoji, empty; tokens of an older key of a rotation; Fernet's own."""
    old, new = Cipher.generate_key(), Cipher.generate_key()
    c = Cipher(f"{new},{old}")
    texts = ["", "a", "期末", "x" * 15, "y" * 16, "z" * 17, "谈了近况，约了下次 🙂" * 9]
    texts += [os.urandom(n).hex() for n in range(0, 70, 7)]
    tokens = [c.encrypt(t) for t in texts] + [Cipher(old).encrypt("旧钥匙")]
    tokens.append(Fernet(new.encode()).encrypt("由 Fernet 直接加密".encode()).decode())
    expected = [c.decrypt(t) for t in tokens]
    assert expected[: len(texts)] == texts
    assert c.decrypt_many(tokens) == expected
    assert c.decrypt_many([]) == []
    # the first key's tokens never take the slow path (`decrypt`)
    fast = Cipher(new)

    def slow(token: str) -> str:
        raise AssertionError("decrypt_many fell back to decrypt")

    fast.decrypt = slow  # type: ignore[method-assign]
    assert fast.decrypt_many(tokens[: len(texts)] + tokens[-1:]) == texts + expected[-1:]


@pytest.mark.parametrize(
    "bad",
    [
        "not a token",
        "",
        "gAAAAA",
        "tampered-signature",
        "tampered-ciphertext",
        "tampered-version",
        "other key",
        "truncated",
    ],
)
def test_decrypt_many_refuses_what_decrypt_refuses(bad: str):
    key = Cipher.generate_key()
    c = Cipher(key)
    good = c.encrypt("secret note")
    token = {
        "tampered-signature": lambda: _tampered(good, -1),
        "tampered-ciphertext": lambda: _tampered(good, 30),
        "tampered-version": lambda: _tampered(good, 0),
        "other key": lambda: Cipher(Cipher.generate_key()).encrypt("secret note"),
        "truncated": lambda: good[:-8],
    }.get(bad, lambda: bad)()
    with pytest.raises(DecryptionError) as one:
        c.decrypt(token)
    with pytest.raises(DecryptionError) as many:
        c.decrypt_many([c.encrypt("fine"), token])
    assert str(many.value) == str(one.value)
    assert "secret note" not in str(many.value)
