"""Two-factor sign-in primitives: TOTP codes, the sealed secret, recovery codes and the QR code.

TOTP is RFC 6238 (https://www.rfc-editor.org/rfc/rfc6238) over RFC 4226 HOTP: HMAC-SHA-1, 30-second
steps, 6 digits, the parameters every authenticator app supports. Writes live in
`accounts.services.twofactor`; this module holds no state.

The TOTP secret must be readable by the server to check a code, so it cannot be hashed. It is
sealed with Fernet (AES-128-CBC and HMAC-SHA-256, from `cryptography`) under a key derived from
SECRET_KEY: a database dump alone does not reveal it. Keys derived from SECRET_KEY_FALLBACKS still
open it, so SECRET_KEY can be rotated the usual Django way. Recovery codes are random enough
(80 bits) to be stored as a plain SHA-256 digest, which keeps them working after a SECRET_KEY
rotation that dropped the old key: they are the way back in when the secret can no longer be
opened.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from urllib.parse import quote, urlencode

import segno
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from accounts.models import TwoFactorDevice, User

ISSUER = "NordPass Admin"
STEP_SECONDS = 30
DIGITS = 6
# Codes from one step before and after the current one are accepted: phone clocks drift, and a
# code typed in the last seconds of its step arrives in the next one.
TOLERANCE_STEPS = 1
SECRET_BYTES = 20  # 160 bits, the length RFC 4226 section 4 recommends for HMAC-SHA-1.
RECOVERY_CODE_COUNT = 10
# 16 characters of a 32-letter alphabet: 80 bits, beyond offline guessing of a SHA-256 digest.
RECOVERY_CODE_LENGTH = 16
# Crockford's base32 (https://www.crockford.com/base32.html): no i, l, o or u, so a code copied
# from paper is read back right; `normalize_code` maps o to 0 and i, l to 1 as it specifies.
RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_CROCKFORD_ALIASES = str.maketrans({"o": "0", "i": "1", "l": "1"})
_KEY_INFO = b"nordpass-admin:two-factor-secret:v1"


# --- RFC 4226 / RFC 6238 -----------------------------------------------------------------------


def hotp(key: bytes, counter: int, *, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 4226 section 5.3: HMAC of the 8-byte counter, dynamic truncation, modulo 10^digits."""
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def time_step(at: float, *, step: int = STEP_SECONDS) -> int:
    """RFC 6238 section 4.2: T = floor((now - T0) / X) with T0 = 0."""
    return int(at // step)


def totp(key: bytes, at: float, *, digits: int = DIGITS, digest: str = "sha1") -> str:
    return hotp(key, time_step(at), digits=digits, digest=digest)


def matching_step(key: bytes, code: str, *, at: float | None = None) -> int | None:
    """The time step whose code `code` is, within the tolerance; None when it matches none.

    Every candidate is compared in constant time and none is skipped, so the timing does not say
    which step (if any) matched.
    """
    code = normalize_code(code)
    if len(code) != DIGITS or not code.isdigit():
        return None
    current = time_step(time.time() if at is None else at)
    found = None
    for candidate in range(current - TOLERANCE_STEPS, current + TOLERANCE_STEPS + 1):
        if hmac.compare_digest(hotp(key, candidate), code) and found is None:
            found = candidate
    return found


def normalize_code(code: str) -> str:
    """What people type: spaces and dashes between groups are ignored, letters are lower-cased."""
    text = "".join(ch for ch in (code or "") if ch not in " -\t").lower()
    return text.translate(_CROCKFORD_ALIASES)


def looks_like_totp(code: str) -> bool:
    code = normalize_code(code)
    return len(code) == DIGITS and code.isdigit()


# --- The secret --------------------------------------------------------------------------------


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def secret_to_base32(key: bytes) -> str:
    """The key as authenticator apps take it: RFC 4648 base32 without padding."""
    return base64.b32encode(key).decode("ascii").rstrip("=")


def grouped(text: str, size: int = 4) -> str:
    """ "JBSW Y3DP ..." for typing by hand; apps ignore the spaces."""
    return " ".join(text[i : i + size] for i in range(0, len(text), size))


def _fernet(secret_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_INFO).derive(
        secret_key.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def _sealer() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet(key) for key in keys])


def seal_secret(key: bytes) -> str:
    return _sealer().encrypt(key).decode("ascii")


def open_secret(sealed: str) -> bytes | None:
    """The secret, or None when no current or fallback SECRET_KEY opens it."""
    if not sealed:
        return None
    try:
        return _sealer().decrypt(sealed.encode("ascii"))
    except InvalidToken:
        return None


def provisioning_uri(key: bytes, *, account: str) -> str:
    """The otpauth:// URI authenticator apps read from the QR code (Google Authenticator's
    "Key Uri Format", which every app follows)."""
    label = quote(f"{ISSUER}:{account}", safe=":@")
    query = urlencode(
        {
            "secret": secret_to_base32(key),
            "issuer": ISSUER,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP_SECONDS,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


def qr_code_svg(uri: str) -> SafeString:
    """An inline SVG of paths only (no style attributes, no script), so it renders under the
    panel's strict Content-Security-Policy and never leaves the server as an image request."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=1,
        border=4,
        omitsize=True,
        svgclass="qr-code",
        lineclass=None,
        dark="#101a2c",
        light="#ffffff",
    )
    # segno builds the markup from the QR matrix; the only text is the title set here.
    titled = svg.replace(">", ' role="img" aria-labelledby="qr-title">', 1)
    title = format_html('<title id="qr-title">{}</title>', "QR code for your authenticator app")
    return mark_safe(titled.replace("><path", f">{title}<path", 1))  # noqa: S308


# --- Recovery codes ----------------------------------------------------------------------------


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, RECOVERY_CODE_LENGTH, 4))


def recovery_code_digest(code: str) -> str:
    return hashlib.sha256(normalize_code(code).encode("utf-8")).hexdigest()


# --- Reads ---------------------------------------------------------------------------------------


def device_for(user: User) -> TwoFactorDevice | None:
    return TwoFactorDevice.objects.filter(user=user).first()


def is_enabled(user: User) -> bool:
    """True when the person signs in with a second factor."""
    return TwoFactorDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()
