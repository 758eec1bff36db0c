"""Encryption of Reverb tokens at rest (Fernet: AES-128-CBC + HMAC-SHA256, from `cryptography`).

Keys come from settings.TOKEN_ENCRYPTION_KEYS, newest first, so keys rotate with MultiFernet: encrypt
with the first, decrypt with any. With no keys configured (development) a key is derived from
SECRET_KEY; backoffice.checks warns about that and refuses it when DEBUG is off.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class TokenDecryptionError(Exception):
    """The stored ciphertext cannot be read with the configured keys (the message never holds data)."""


def derived_dev_key() -> bytes:
    """A Fernet key derived from SECRET_KEY, used only when TOKEN_ENCRYPTION_KEYS is empty."""
    digest = hashlib.sha256(b"reverb-backoffice-token-key:" + settings.SECRET_KEY.encode()).digest()
    return base64.urlsafe_b64encode(digest)


def configured_keys() -> list[str]:
    return [k.strip() for k in settings.TOKEN_ENCRYPTION_KEYS if k and k.strip()]


def invalid_keys() -> list[int]:
    """Positions (0-based) of configured keys that are not valid Fernet keys."""
    bad = []
    for i, key in enumerate(configured_keys()):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            bad.append(i)
    return bad


def _fernet() -> MultiFernet:
    keys = configured_keys() or [derived_dev_key()]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode("ascii")


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode("ascii")).decode()
    except (InvalidToken, ValueError) as exc:
        raise TokenDecryptionError(
            "The stored Reverb token cannot be decrypted with TOKEN_ENCRYPTION_KEYS "
            "(was the key changed or removed?). Set the token again."
        ) from exc


def rotate(ciphertext: str) -> str:
    """Re-encrypt with the newest key (after adding a key at the front of TOKEN_ENCRYPTION_KEYS)."""
    return _fernet().rotate(ciphertext.encode("ascii")).decode("ascii")
