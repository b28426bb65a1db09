"""The report of a connection test: what `SmtpTransport.probe` learnt, as the API shows it.

The probe itself is the SMTP transport's own session (`core.transport.smtp.session`), stopped before
MAIL FROM; this module only describes its `SessionLog`: the stages passed and how long each
took, the address, the greeting, each EHLO's capabilities, the TLS and its certificate, AUTH,
and the error a send would have got. The certificate is read from its DER bytes here (a small
reader, stdlib only): `getpeercert()` describes nothing when verification is off, and the
Lambda package has no X.509 library.
"""

from __future__ import annotations

import ipaddress
import ssl
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field

from core.oauth2.errors import OAuth2TokenFailed
from core.services.smtp_options import Encryption
from core.transport.report import ConnectionReport, ErrorReport, Report, StageResult
from core.transport.smtp.endpoint import SmtpEndpoint
from core.transport.smtp.session_log import Hello, SessionLog, TlsFacts
from core.transport.smtp.stages import Stage

# --- the report -------------------------------------------------------------------------------


class ConnectionFacts(Report):
    address: str = Field(description="The IP address connected to (after the SSRF guard).")
    port: int
    connect_ms: float = Field(description="DNS, the destination guard and the TCP handshake.")


class CertificateReport(Report):
    subject: str = Field(description="Most specific part first, e.g. `CN=smtp.example.com, O=…`.")
    issuer: str
    not_before: datetime
    not_after: datetime
    days_to_expiry: int = Field(description="Whole days left; negative once expired.")
    subject_alt_names: list[str] = Field(description="`DNS:name`, `IP:address`, ...")


class TlsReport(Report):
    mode: Literal["starttls", "implicit", "none"] = Field(
        description="STARTTLS, implicit TLS ('ssl'), or none: the session stayed in clear text."
    )
    version: str | None = None
    cipher: str | None = None
    verified: bool = Field(
        description="Whether the certificate was checked and passed (chain and host name)."
    )
    verify_error: str | None = Field(
        default=None,
        description="Why it did not verify. The certificate is then as a second connection, "
        "checking nothing and going no further than TLS, saw it.",
    )
    certificate: CertificateReport | None = None


class Capabilities(Report):
    """An EHLO reply's extensions, and the ones that matter pulled out."""

    extensions: dict[str, str] = Field(description="Each keyword (upper case) and its parameters.")
    starttls: bool
    pipelining: bool
    chunking: bool
    smtputf8: bool
    eight_bit_mime: bool = Field(description="8BITMIME")
    size: int | None = Field(
        description="SIZE's limit in bytes (0: no fixed limit); null when SIZE is not offered."
    )
    auth: list[str] = Field(description="The AUTH mechanisms offered.")


class HelloReport(Report):
    command: Literal["EHLO", "HELO"]
    tls: bool = Field(description="Whether it was sent over TLS (after STARTTLS, or implicit).")
    server: str = Field(description="The reply's first line: how the server names itself.")
    capabilities: Capabilities


class AuthReport(Report):
    username: str
    succeeded: bool | None = Field(description="null: the session stopped before AUTH.")
    mechanisms: list[str] = Field(description="What the server offered (never the password).")


class SmtpConnectionReport(ConnectionReport):
    """An SMTP connection test: a session as a send would open it, stopped before MAIL FROM.
    (`ok`, `service`, `stages`, `error` and `elapsed_ms`: `ConnectionReport`.)"""

    host: str
    port: int
    encryption: str
    verify_tls: bool
    connection: ConnectionFacts | None = Field(description="null: no TCP connection was made.")
    greeting: str | None
    tls: TlsReport
    ehlo: list[HelloReport] = Field(description="Each EHLO reply: before STARTTLS, then after.")
    auth: AuthReport | None = Field(description="null: the service has no credentials.")


def describe(
    log: SessionLog, endpoint: SmtpEndpoint, *, service: str, now: datetime
) -> SmtpConnectionReport:
    """The report of a probe's `log`, for the service named `service` reaching `endpoint`."""
    stages = _stages(log, endpoint)
    connect_ms = next((s.ms for s in stages if s.stage == "connect" and s.ok), None)
    hellos = [_hello(hello) for hello in log.hellos]
    return SmtpConnectionReport(
        ok=log.failure is None,
        service=service,
        host=endpoint.host,
        port=endpoint.port,
        encryption=endpoint.encryption.value,
        verify_tls=endpoint.verify_tls,
        stages=stages,
        connection=(
            ConnectionFacts(address=log.address, port=endpoint.port, connect_ms=connect_ms)
            if log.address is not None and connect_ms is not None
            else None
        ),
        greeting=log.greeting,
        tls=_tls(log, endpoint, now),
        ehlo=hellos,
        auth=(
            AuthReport(
                username=endpoint.username,
                succeeded=_auth_outcome(log, endpoint),
                mechanisms=hellos[-1].capabilities.auth if hellos else [],
            )
            if endpoint.username
            else None
        ),
        error=_error(log, endpoint) if log.failure is not None else None,
        elapsed_ms=_ms((log.ended or log.started) - log.started),
    )


def _stages(log: SessionLog, endpoint: SmtpEndpoint) -> list[StageResult]:
    results: list[StageResult] = []
    since = log.started
    for stage, at in log.marks:
        results.append(StageResult(stage=stage, ok=True, ms=_ms(at - since)))
        since = at
    if log.failure is not None:
        ended = log.ended or since
        failed = _failed_stage(log, endpoint)
        results.append(StageResult(stage=failed, ok=False, ms=_ms(ended - since)))
    return results


def _failed_stage(log: SessionLog, endpoint: SmtpEndpoint) -> str:
    """The session's own stage when it had one; while connecting (no stage yet), which part
    of connecting failed: the guard, DNS or TCP; implicit TLS's handshake; the greeting."""
    assert log.failure is not None
    if isinstance(log.failure, OAuth2TokenFailed):
        return Stage.OAUTH2_TOKEN
    stage = log.failure.context.get("stage")
    if isinstance(stage, str):
        return stage
    if log.address is None:
        return "connect"
    implicit = endpoint.encryption is Encryption.SSL
    if isinstance(log.failure.__cause__, ssl.SSLError) or (implicit and log.tls is None):
        return "tls"
    return "greeting"


def _auth_outcome(log: SessionLog, endpoint: SmtpEndpoint) -> bool | None:
    """True once AUTH passed, False if the session failed at it, None if it never got there."""
    if any(stage == "auth" for stage, _ in log.marks):
        return True
    if log.failure is not None and _failed_stage(log, endpoint) == "auth":
        return False
    return None


def _error(log: SessionLog, endpoint: SmtpEndpoint) -> ErrorReport:
    failure = log.failure
    assert failure is not None
    code = failure.context.get("smtp_code")
    return ErrorReport(
        reason=failure.reason,
        message=failure.message,
        stage=_failed_stage(log, endpoint),
        smtp_code=code if isinstance(code, int) else None,
        provider_error=failure.error if isinstance(failure, OAuth2TokenFailed) else None,
        transient=failure.transient,
    )


def _tls(log: SessionLog, endpoint: SmtpEndpoint, now: datetime) -> TlsReport:
    facts, verify_error = log.tls, None
    if facts is None and log.unverified is not None and log.failure is not None:
        facts = log.unverified
        cause = log.failure.__cause__
        verify_error = (
            cause.verify_message if isinstance(cause, ssl.SSLCertVerificationError) else None
        ) or str(cause)
    if facts is None:
        return TlsReport(mode="none", verified=False)
    return TlsReport(
        mode="implicit" if facts.mode == "implicit" else "starttls",
        version=facts.version,
        cipher=facts.cipher,
        # The context checks chain and name whenever verify_tls is on: a handshake made with
        # it is a verified one.
        verified=endpoint.verify_tls and verify_error is None,
        verify_error=verify_error,
        certificate=_certificate(facts, now),
    )


def _hello(hello: Hello) -> HelloReport:
    features = hello.features
    size = features.get("size")
    return HelloReport(
        command="EHLO" if hello.command == "EHLO" else "HELO",
        tls=hello.tls,
        server=hello.reply.split("\n", 1)[0].strip(),
        capabilities=Capabilities(
            extensions={keyword.upper(): value for keyword, value in features.items()},
            starttls="starttls" in features,
            pipelining="pipelining" in features,
            chunking="chunking" in features,
            smtputf8="smtputf8" in features,
            eight_bit_mime="8bitmime" in features,
            size=(int(size) if size.strip().isdigit() else 0) if size is not None else None,
            auth=[mechanism.upper() for mechanism in features.get("auth", "").split()],
        ),
    )


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


# --- reading a certificate --------------------------------------------------------------------

# The attribute types a server certificate's names use, by OID.
_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.5": "serialNumber",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "1.2.840.113549.1.9.1": "emailAddress",
}
_SUBJECT_ALT_NAME = "2.5.29.17"
_SEQUENCE, _SET, _OID, _OCTETS, _BOOLEAN = 0x30, 0x31, 0x06, 0x04, 0x01
_UTC_TIME, _GENERALIZED_TIME = 0x17, 0x18
_VERSION, _EXTENSIONS = 0xA0, 0xA3  # [0] and [3], explicit
_BMP_STRING = 0x1E
_ALT_NAMES = {0x81: "email", 0x82: "DNS", 0x86: "URI"}  # GeneralName's IA5String choices
_ALT_IP = 0x87


def _certificate(facts: TlsFacts, now: datetime) -> CertificateReport | None:
    """The certificate's names and validity; None if it cannot be read (it is still reported
    as verified or not: reading it is only for the person looking)."""
    if not facts.certificate:
        return None
    try:
        return _read_certificate(facts.certificate, now)
    except (IndexError, ValueError):
        return None


def _read_certificate(der: bytes, now: datetime) -> CertificateReport:
    # Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
    certificate = _children(_contents_of(_only(der), _SEQUENCE))
    tbs = _children(_contents_of(certificate[0], _SEQUENCE))
    fields = [item for item in tbs if item[0] != _VERSION]
    # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ...
    issuer, validity, subject = fields[2], fields[3], fields[4]
    not_before, not_after = (_time(item) for item in _children(validity[1]))
    extensions = next((content for tag, content in fields[6:] if tag == _EXTENSIONS), b"")
    return CertificateReport(
        subject=_name(subject[1]),
        issuer=_name(issuer[1]),
        not_before=not_before,
        not_after=not_after,
        days_to_expiry=(not_after - now).days,
        subject_alt_names=_alt_names(extensions),
    )


def _element(data: bytes, at: int) -> tuple[int, bytes, int]:
    """The DER element at `at`: its tag, its contents, and where the next one starts."""
    tag, length = data[at], data[at + 1]
    at += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[at : at + count], "big")
        at += count
    if at + length > len(data):
        raise ValueError("a DER element runs past its container")
    return tag, data[at : at + length], at + length


def _children(data: bytes) -> list[tuple[int, bytes]]:
    elements, at = [], 0
    while at < len(data):
        tag, content, at = _element(data, at)
        elements.append((tag, content))
    return elements


def _only(data: bytes) -> tuple[int, bytes]:
    """The one element `data` holds."""
    elements = _children(data)
    if len(elements) != 1:
        raise ValueError(f"expected one DER element, found {len(elements)}")
    return elements[0]


def _contents_of(element: tuple[int, bytes], tag: int) -> bytes:
    if element[0] != tag:
        raise ValueError(f"expected DER tag {tag:#x}, found {element[0]:#x}")
    return element[1]


def _oid(content: bytes) -> str:
    arc = min(content[0] // 40, 2)  # the first byte packs two arcs: 40 * X + Y
    parts, value = [arc, content[0] - 40 * arc], 0
    for byte in content[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(part) for part in parts)


def _text(tag: int, content: bytes) -> str:
    return content.decode("utf-16-be" if tag == _BMP_STRING else "utf-8", "replace")


def _name(content: bytes) -> str:
    """A Name as RFC 4514 orders it, most specific first: `CN=..., O=..., C=...`."""
    parts = []
    for _, rdn in _children(content):  # SET OF AttributeTypeAndValue
        for _, attribute in _children(rdn):
            (_, oid), (tag, value) = _children(attribute)[:2]
            kind = _oid(oid)
            parts.append(f"{_NAMES.get(kind, kind)}={_text(tag, value)}")
    return ", ".join(reversed(parts))


def _time(element: tuple[int, bytes]) -> datetime:
    tag, content = element
    text = content.decode("ascii").rstrip("Z")
    if tag == _UTC_TIME:  # YYMMDDHHMMSS: 50-99 are 19xx (RFC 5280 4.1.2.5.1)
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != _GENERALIZED_TIME:
        raise ValueError(f"not a time: DER tag {tag:#x}")
    return datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def _alt_names(extensions: bytes) -> list[str]:
    if not extensions:
        return []
    for _, extension in _children(_contents_of(_only(extensions), _SEQUENCE)):
        parts = _children(extension)
        if _oid(parts[0][1]) != _SUBJECT_ALT_NAME:
            continue
        value = next(content for tag, content in parts[1:] if tag == _OCTETS)
        names = []
        for tag, content in _children(_contents_of(_only(value), _SEQUENCE)):
            if tag == _ALT_IP:
                names.append(f"IP:{ipaddress.ip_address(content)}")
            elif tag in _ALT_NAMES:
                names.append(f"{_ALT_NAMES[tag]}:{content.decode('ascii', 'replace')}")
        return names
    return []
