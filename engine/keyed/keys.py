"""Protection keys: 32 random bytes (``secrets``) in a text file only its owner may read.

A key file is never overwritten, never logged and never written into a run's record; what may be
shown is its ``fingerprint``, which names the key without revealing it."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from vcam.engine.errors import VcamError

KEY_BYTES = 32
HEADER = "deid-vcam key v1"


class KeyFileError(VcamError):
    """The key file is missing, unreadable, not a key, or readable by other users."""


@dataclass(frozen=True, repr=False)
class Key:
    """A secret; ``repr`` and ``str`` show only its fingerprint."""

    secret: bytes

    @property
    def fingerprint(self) -> str:
        """16 hex digits naming the key (a one-way function of it)."""
        return hashlib.sha256(b"deid-vcam fingerprint\0" + self.secret).hexdigest()[:16]

    def derive(self, purpose: str) -> bytes:
        """32 bytes for ``purpose`` (HMAC-SHA256): one key, independent material per use."""
        return hmac.new(self.secret, purpose.encode(), hashlib.sha256).digest()

    def __repr__(self) -> str:
        return f"Key(fingerprint={self.fingerprint})"

    __str__ = __repr__


def random_key() -> Key:
    """A new key from the OS's cryptographic random source (``secrets``)."""
    return Key(secrets.token_bytes(KEY_BYTES))


def create_key_file(path: Path) -> Key:
    """A new random key written to ``path`` (mode 0600, its folder made 0700 if missing);
    ``KeyFileError`` if ``path`` exists (a key is never overwritten) or cannot be written."""
    key = random_key()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} exists; a key is never overwritten (recordings protected with it could no longer be restored): name another file") from None
    except OSError as exc:
        raise KeyFileError(f"cannot write key file {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(f"{HEADER}\n{key.secret.hex()}\n")
    return key


def load_key(path: Path) -> Key:
    """The key in ``path``; ``KeyFileError`` with the fix if it is missing, not a key file, or
    readable or writable by other users (POSIX)."""
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise KeyFileError(f"key file {path} {what}; create one with: vcam-key new {path}")
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"cannot read key file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"key file {path} is open to other users (mode {stat.filemode(mode)}); make it private: chmod 600 {path}")
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) != 2 or lines[0] != HEADER or len(lines[1]) != 2 * KEY_BYTES:
        raise KeyFileError(f"{path} is not a deid-vcam key file (made by vcam-key new)")
    try:
        return Key(bytes.fromhex(lines[1]))
    except ValueError:
        raise KeyFileError(f"{path} is not a deid-vcam key file (made by vcam-key new)") from None
