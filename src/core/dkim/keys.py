"""A DKIM private key: read from PEM, checked, and the DNS record its public half needs.

Only RSA keys are taken (PKCS#1 `BEGIN RSA PRIVATE KEY` or PKCS#8 `BEGIN PRIVATE KEY`, as
`openssl genrsa` and `openssl genpkey` write them), of 1024 to 4096 bits: dkimpy signs RSA in
pure Python, and receivers refuse keys under 1024 bits (RFC 8301 §3.2). Ed25519 (RFC 8463)
would need PyNaCl in the Lambda package, and receivers that verify it alone are few; a key of
that kind is a 400 saying so.

No error here quotes the key or any part of it: the messages are fixed sentences. dkimpy is
imported when a key is read (it loads dnspython, some 80 ms): a cold start that signs nothing
never pays for it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from core.errors import InvalidRequest

MIN_KEY_BITS = 1024
MAX_KEY_BITS = 4096
# A PEM RSA key of 4096 bits is some 3,300 characters; this leaves room for line breaks.
MAX_PEM_LENGTH = 8 * 1024

# rsaEncryption (1.2.840.113549.1.1.1), DER-encoded, for the SubjectPublicKeyInfo DNS carries.
_RSA_ENCRYPTION = bytes.fromhex("06092a864886f70d010101")
_ED25519 = bytes.fromhex("06032b6570")  # 1.3.101.112, in a PKCS#8 key of that kind


class UnusableKey(Exception):
    """The text given is not a usable DKIM key; `message` says why, never quoting it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class DkimKey:
    """A checked RSA private key: its PEM (what dkimpy signs with) and its public half."""

    pem: bytes = field(repr=False)
    modulus: int = field(repr=False)
    public_exponent: int = field(repr=False)

    @property
    def bits(self) -> int:
        return self.modulus.bit_length()

    def public_key_der(self) -> bytes:
        """The public key as RFC 6376's `p=` tag carries it: a DER SubjectPublicKeyInfo."""
        rsa_public_key = _sequence(_integer(self.modulus) + _integer(self.public_exponent))
        algorithm = _sequence(_RSA_ENCRYPTION + b"\x05\x00")  # the OID, and NULL parameters
        return _sequence(algorithm + _tlv(0x03, b"\x00" + rsa_public_key))

    def dns_record_value(self) -> str:
        """The TXT record's text: `v=DKIM1; k=rsa; p=<base64>`."""
        return f"v=DKIM1; k=rsa; p={base64.b64encode(self.public_key_der()).decode('ascii')}"


def parse_key(text: str) -> DkimKey:
    """`text` as a DKIM key (PEM, RSA, 1024-4096 bits, its parts consistent), or `UnusableKey`."""
    if len(text) > MAX_PEM_LENGTH:
        raise UnusableKey(f"the key is longer than {MAX_PEM_LENGTH} characters")
    if not text.isascii():
        raise UnusableKey("a PEM key is ASCII text")
    # Line endings as pasted (CRLF from a Windows editor) become LF, which dkimpy's reader needs.
    pem = "\n".join(line.strip() for line in text.strip().splitlines()).encode("ascii")
    if b"ENCRYPTED" in pem:
        raise UnusableKey("the key is encrypted: give it without a passphrase")
    if not pem.startswith(b"-----BEGIN ") or b"PRIVATE KEY-----" not in pem:
        raise UnusableKey("the key is not a PEM private key ('-----BEGIN PRIVATE KEY-----')")
    from dkim.crypto import UnparsableKeyError, parse_pem_private_key

    try:
        parts = parse_pem_private_key(pem)
    except (UnparsableKeyError, ValueError, IndexError, TypeError):
        if _ED25519 in _der_of(pem):
            raise UnusableKey("the key is an Ed25519 key: only RSA keys are taken") from None
        raise UnusableKey("the key is not a readable RSA private key (PKCS#1 or PKCS#8)") from None
    key = DkimKey(pem, int(parts["modulus"]), int(parts["publicExponent"]))
    if not MIN_KEY_BITS <= key.bits <= MAX_KEY_BITS:
        raise UnusableKey(
            f"the key has {key.bits} bits: use {MIN_KEY_BITS} to {MAX_KEY_BITS} (2048 is usual)"
        )
    _check_consistent(parts)
    return key


def _check_consistent(parts: dict[str, int]) -> None:
    """A signature made with the key must verify with its public half: a key whose parts were
    damaged (a line lost in pasting can still parse) would sign every message wrongly."""
    from dkim.crypto import RSASSA_PKCS1_v1_5_sign, RSASSA_PKCS1_v1_5_verify

    digest = hashlib.sha256(b"dkim key check")  # dkimpy takes the hash object
    try:
        signature = RSASSA_PKCS1_v1_5_sign(digest, parts)
        verified = RSASSA_PKCS1_v1_5_verify(digest, bytes(signature), parts)
    except Exception:  # any arithmetic failure is a damaged key; never quote it
        verified = False
    if not verified:
        raise UnusableKey("the key's parts do not agree (is it complete?)")


def _der_of(pem: bytes) -> bytes:
    body = b"".join(line for line in pem.splitlines() if not line.startswith(b"-----"))
    try:
        return base64.b64decode(body)
    except ValueError:
        return b""


def invalid_key(error: UnusableKey, field_name: str) -> InvalidRequest:
    """The 400 for an unusable key under `field_name`; its message never quotes the key."""
    return InvalidRequest(
        f"Invalid DKIM private key: {error.message}.",
        reason="invalid_dkim_key",
        context={"field": field_name},
    )


# --- just enough DER for a SubjectPublicKeyInfo ---------------------------------------------


def _tlv(tag: int, value: bytes) -> bytes:
    length = len(value)
    if length < 0x80:
        return bytes([tag, length]) + value
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + value


def _integer(value: int) -> bytes:
    # Big-endian, with a leading zero byte when the top bit is set (DER integers are signed).
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _sequence(content: bytes) -> bytes:
    return _tlv(0x30, content)
