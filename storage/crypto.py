"""Field encryption for free text at rest (Fernet: AES-128-CBC + HMAC-SHA256).

`Cipher(key)` accepts one Fernet key, or several separated by commas for key rotation
(the first encrypts, all decrypt).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers import Cipher as _AES
from cryptography.hazmat.primitives.ciphers import algorithms, modes

from storage.errors import DecryptionError

__all__ = ["Cipher"]

_KEY_HELP = (
    "CAREMAP_SECRET_KEY must be a Fernet key: 32 url-safe base64-encoded bytes "
    '(44 characters), e.g. from `python -c "from storage.crypto import Cipher; '
    'print(Cipher.generate_key())"`'
)


_INDEX_LABEL = b"caremap blind index v1"


class Cipher:
    def __init__(self, key: str) -> None:
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"empty encryption key: {_KEY_HELP}")
        fernets = []
        for part in key.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                fernets.append(Fernet(part.encode("ascii")))
            except (ValueError, UnicodeEncodeError, TypeError):
                # never echo the key itself
                raise ValueError(f"invalid encryption key: {_KEY_HELP}") from None
        self._fernet = MultiFernet(fernets)
        # the first key's halves, for `decrypt_many` (a Fernet key is the HMAC-SHA256
        # signing key, then the AES-128 key)
        first = base64.urlsafe_b64decode(next(p.strip() for p in key.split(",") if p.strip()))
        self._signing_key, self._encryption_key = first[:16], first[16:]
        self._memo: dict[str, str] = {}
        # blind-index keys, one per Fernet key (the first writes, all are looked up), each
        # derived from the key's own bytes: never the encryption or signing key itself
        self._index_keys = [
            hmac.new(
                base64.urlsafe_b64decode(part.strip().encode("ascii")), _INDEX_LABEL, hashlib.sha256
            ).digest()
            for part in key.split(",")
            if part.strip()
        ]

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")

    def encrypt(self, plaintext: str) -> str:
        if not isinstance(plaintext, str):
            raise TypeError("Cipher.encrypt expects str")
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, AttributeError, TypeError):
            raise DecryptionError(
                "could not decrypt a stored field: the data was written with a different "
                "CAREMAP_SECRET_KEY (or the key file beside the database was replaced)"
            ) from None

    def decrypt_many(self, tokens: Sequence[str]) -> list[str]:
        """`[decrypt(t) for t in tokens]`, the same texts or the same error, at about half
        the cost over many tokens (/find decrypts a caseload's 50,000 notes): each token is
        checked as Fernet checks it (version byte, HMAC-SHA256 over version, timestamp, IV
        and ciphertext, compared in constant time) and only then deciphered, all of them in
        one AES call and one XOR (CBC deciphering is each block's AES-ECB deciphering XOR
        the block before it, the IV for the first), then unpadded (PKCS7, checked). A token this
        cannot read under the first key (another key of a rotation, or a bad token) goes
        through `decrypt`, which reads it or raises what it always raised."""
        checked: list[bytes | None] = []
        signing, digest, same = self._signing_key, hmac.digest, hmac.compare_digest
        for token in tokens:
            try:
                data = binascii.a2b_base64(
                    token.replace("-", "+").replace("_", "/"), strict_mode=True
                )
            except (binascii.Error, AttributeError, TypeError, ValueError):
                checked.append(None)
                continue
            ok = (
                len(data) >= 73
                and data[0] == 0x80
                and (len(data) - 57) % 16 == 0
                and same(digest(signing, data[:-32], "sha256"), data[-32:])
            )
            checked.append(data if ok else None)
        good = [data for data in checked if data is not None]
        decryptor = _AES(algorithms.AES(self._encryption_key), modes.ECB()).decryptor()
        ecb = decryptor.update(b"".join(data[25:-32] for data in good)) + decryptor.finalize()
        # CBC: XOR each deciphered block with the block before it (the IV for the first),
        # all tokens at once: the IV and every ciphertext block but the last, end to end
        before = b"".join(data[9:-48] for data in good)
        plain = (int.from_bytes(ecb, "big") ^ int.from_bytes(before, "big")).to_bytes(
            len(ecb), "big"
        )
        out: list[str] = []
        at = 0
        for token, sealed in zip(tokens, checked, strict=True):
            if sealed is not None:
                n = len(sealed) - 57
                padded = plain[at : at + n]
                at += n
                pad = padded[-1]
                if 1 <= pad <= 16 and padded[-pad:] == bytes((pad,)) * pad:
                    try:
                        out.append(padded[:-pad].decode("utf-8"))
                        continue
                    except UnicodeError:
                        pass
            out.append(self.decrypt(token))
        return out

    _MEMO_LIMIT = 200_000

    def blind_index(self, text: str) -> str:
        """A keyed hash of `text` (HMAC-SHA256 under a key derived from the first key, 32
        hex characters) stored beside an encrypted field so an equality lookup can use an
        SQL index: it shows which rows hold equal values, never the values; without the
        key it cannot be computed for a guessed value."""
        return self._index(self._index_keys[0], text)

    def blind_indexes(self, text: str) -> list[str]:
        """`blind_index` under every key (during a rotation rows may hold either)."""
        return [self._index(k, text) for k in self._index_keys]

    @staticmethod
    def _index(key: bytes, text: str) -> str:
        return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    def decrypt_cached(self, token: str) -> str:
        """`decrypt`, remembered by token, for the short identifying fields read on every
        lookup (names, tags…). A token is never rewritten in place (a new value is a new
        random token), so the memo cannot go stale; it only saves the HMAC and AES work
        for a caseload read again and again. Bounded: cleared when full."""
        plain = self._memo.get(token)
        if plain is None:
            plain = self.decrypt(token)
            if len(self._memo) >= self._MEMO_LIMIT:
                self._memo.clear()
            self._memo[token] = plain
        return plain

    def __repr__(self) -> str:  # never show key material
        return "Cipher(<hidden>)"
