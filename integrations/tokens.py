"""The format of SCIM secret tokens: generation, digest and a checksum secret scanners can verify.

A token reads `npscim_<43 base62 characters><6 base62 characters>`: the readable prefix says what
it is, the 43 random characters carry 256 bits from `secrets`, and the last six are a CRC-32 of the
random part, so a scanner can tell a real token from look-alike text without calling us (the
scheme GitHub uses for its tokens). The database only ever sees `token_digest(token)`.
"""

from __future__ import annotations

import hashlib
import secrets
import zlib

from django.utils.crypto import constant_time_compare

PREFIX = "npscim_"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 43  # 62**43 > 2**256
CHECKSUM_LENGTH = 6
TOKEN_LENGTH = len(PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH
HINT_LENGTH = len(PREFIX) + 4


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(ALPHABET[remainder])
    return "".join(reversed(digits))


def _checksum(random_part: str) -> str:
    return _base62(zlib.crc32(random_part.encode()), CHECKSUM_LENGTH)


def generate_token() -> str:
    random_part = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return f"{PREFIX}{random_part}{_checksum(random_part)}"


def looks_like_token(value: str) -> bool:
    """Shape and checksum only: cheap, and rejects garbage before any database lookup."""
    if len(value) != TOKEN_LENGTH or not value.startswith(PREFIX):
        return False
    body = value[len(PREFIX) :]
    if any(char not in ALPHABET for char in body):
        return False
    random_part, checksum = body[:RANDOM_LENGTH], body[RANDOM_LENGTH:]
    return constant_time_compare(_checksum(random_part), checksum)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_hint(token: str) -> str:
    return token[:HINT_LENGTH]
