"""Encrypt Yandex tokens at rest with Fernet keys kept apart from the data.

Keys come from ``ORDERSYNC_TOKEN_KEYS`` (comma-separated, newest first), never from
``SECRET_KEY``. The newest key encrypts; every key decrypts, so keys can be rotated
by adding a new one in front, running ``rotate_token_keys``, then dropping the old.
"""

from __future__ import annotations

import functools
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

from ordersync.counters.errors import TokenDecryptError


def configured_keys() -> tuple[str, ...]:
    """Return the token keys, newest first; make a development key when none."""
    keys = tuple(k.strip() for k in settings.TOKEN_ENCRYPTION_KEYS if k.strip())
    if keys:
        return keys
    if settings.PRODUCTION:
        raise ImproperlyConfigured("ORDERSYNC_TOKEN_KEYS is empty in production.")
    return (_development_key(Path(settings.TOKEN_KEYS_FILE)),)


def _development_key(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key() + b"\n")
        # link() fails when another process made the file first: theirs wins.
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    keys = path.read_text().split()
    if not keys:
        raise ImproperlyConfigured(f"{path} holds no token key.")
    return keys[0]


@functools.lru_cache(maxsize=8)
def _multi_fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            "ORDERSYNC_TOKEN_KEYS holds a value that is not a Fernet key "
            "(32 url-safe base64-encoded bytes)."
        ) from None


def check_keys() -> None:
    """Raise ImproperlyConfigured when the token keys are missing or malformed."""
    _multi_fernet(configured_keys())


def encrypt(plaintext: str) -> str:
    """Return ``plaintext`` encrypted under the newest key."""
    return _multi_fernet(configured_keys()).encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    """Return the plaintext; raise TokenDecryptError when no key opens it."""
    try:
        return _multi_fernet(configured_keys()).decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise TokenDecryptError(
            _(
                "The stored token cannot be decrypted with the configured keys "
                "(ORDERSYNC_TOKEN_KEYS). Restore the key it was encrypted with, or "
                "connect the account again."
            )
        ) from None


def rotate(ciphertext: str) -> str:
    """Return ``ciphertext`` re-encrypted under the newest key."""
    try:
        return _multi_fernet(configured_keys()).rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise TokenDecryptError(
            _("The stored token cannot be decrypted with the configured keys.")
        ) from None


def newest_key_opens(ciphertext: str) -> bool:
    """Return True when the newest key alone decrypts ``ciphertext``."""
    try:
        Fernet(configured_keys()[0]).decrypt(ciphertext.encode())
    except InvalidToken:
        return False
    return True


def generate_key() -> str:
    """Return a new random Fernet key."""
    return Fernet.generate_key().decode()
