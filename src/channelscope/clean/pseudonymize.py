"""Keyed pseudonyms for personal data (DESIGN rule 4). The key never enters the warehouse."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from channelscope.clean.parse import hmac_sha256, normalize_pii
from channelscope.errors import ConfigError

_BLOCK = 64  # SHA-256 block size in bytes
PSEUDONYM_HEX = 32  # 128 bits of the HMAC, as hex
#: prefix of pseudonyms written to quarantine records, so a fixed export is not hashed twice
PSEUDONYM_MARK = "pseudonym:"


@dataclass(frozen=True)
class PseudonymKey:
    key: bytes

    @property
    def pads(self) -> tuple[bytes, bytes]:
        k = self.key if len(self.key) <= _BLOCK else hashlib.sha256(self.key).digest()
        k = k.ljust(_BLOCK, b"\x00")
        return bytes(b ^ 0x36 for b in k), bytes(b ^ 0x5C for b in k)

    def sql(self, text: str, kind: str) -> str:
        """SQL for the pseudonym of a (trimmed) personal field of a kind (phone, email, ...)."""
        inner, outer = self.pads
        normalized = normalize_pii(text, kind)
        hashed = f"left({hmac_sha256(normalized, inner, outer)}, {PSEUDONYM_HEX})"
        # a marked pseudonym (from a re-ingested quarantine export) is kept, not hashed again
        return (
            f"CASE WHEN regexp_full_match({text}, '{PSEUDONYM_MARK}[0-9a-f]{{{PSEUDONYM_HEX}}}') "
            f"THEN substr({text}, {len(PSEUDONYM_MARK) + 1}) ELSE {hashed} END"
        )

    def python(self, normalized: str) -> str:
        """The same pseudonym computed in Python (for tests and single values)."""
        digest = hmac.new(self.key, normalized.encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[:PSEUDONYM_HEX]


def load_key(project: Path, key_env: str, key_file: str) -> PseudonymKey:
    """The key from the environment variable, else from the key file (hex or raw bytes)."""
    value = os.environ.get(key_env)
    if value:
        return PseudonymKey(value.encode("utf-8"))
    path = Path(key_file) if Path(key_file).is_absolute() else project / key_file
    if not path.exists():
        raise ConfigError(
            "no pseudonymization key",
            file=str(path),
            hint=f"set {key_env} or create the key file with 'channelscope init'",
        )
    raw = path.read_bytes().strip()
    if len(raw) < 16:
        raise ConfigError("pseudonymization key is shorter than 16 bytes", file=str(path))
    return PseudonymKey(raw)


def write_new_key(path: Path) -> None:
    """Create a random 256-bit key file readable only by its owner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secrets.token_hex(32) + "\n", encoding="ascii")
    path.chmod(0o600)
