"""DKIM keys made for a test (with `cryptography`, a test dependency), and a DNS answer for
dkimpy's `verify` that serves their public halves from memory: no test looks anything up."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

DnsAnswer = Callable[..., bytes | None]


@cache
def rsa_key(bits: int = 2048, *, pkcs8: bool = False) -> str:
    """A fresh RSA private key in PEM: PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    layout = (
        serialization.PrivateFormat.PKCS8
        if pkcs8
        else serialization.PrivateFormat.TraditionalOpenSSL
    )
    pem = key.private_bytes(serialization.Encoding.PEM, layout, serialization.NoEncryption())
    return pem.decode("ascii")


def short_rsa_key(bits: int = 512) -> str:
    """An RSA key too short for DKIM, which `cryptography` will not generate: its primes are
    found here (Python's own pow for the Fermat test is quick at this size)."""
    primes = [_prime(bits // 2, seed) for seed in (1, 2)]
    p, q = primes
    e = 65537
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(e, p * q),
    )
    key = numbers.private_key(unsafe_skip_rsa_key_validation=True)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode("ascii")


def _prime(bits: int, seed: int) -> int:
    candidate = (3 << (bits - 2)) | (seed * 0x9E3779B97F4A7C15) | 1  # the top two bits set
    while not all(pow(base, candidate - 1, candidate) == 1 for base in (2, 3, 5, 7, 11, 13)):
        candidate += 2
    return candidate if (candidate - 1) % 65537 else _prime(bits, seed + 2)


def ed25519_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def encrypted_rsa_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode("ascii")


def dns_answering(records: dict[str, str]) -> DnsAnswer:
    """dkimpy's `dnsfunc`: the TXT record of each name in `records` (the name as dkimpy asks,
    without a trailing dot), None for any other."""

    def answer(name: bytes, timeout: int = 5) -> bytes | None:
        record = records.get(name.decode("ascii").rstrip("."))
        return record.encode("ascii") if record is not None else None

    return answer
