"""The local stack's own certificate authority, so its SMTP server can do real, verified TLS.

On first start the stack makes a CA (`tls/ca.pem`, its key `tls/ca-key.pem`) in its state
directory and keeps it: a developer who trusts it once (a mail client, `openssl s_client
-CAfile`) goes on trusting it across restarts. At every start it issues the capture server a
fresh certificate for `localhost`, 127.0.0.1 and ::1, signed by that CA. The stack's functions
trust this CA on top of the system store (SMTP_CA_FILE, `local_stack.environment`): TLS is
verified as deployed, never switched off. `make dev-reset` forgets the CA with the rest.

Keys are EC P-256 (quick to make on a busy machine); files are 0600 like all state.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from local_stack.private_files import private_directory, require_private_file, write_private

TLS_DIRECTORY = "tls"
CA_NAME = "email-api local stack CA"
SERVER_NAMES = ("localhost",)
SERVER_ADDRESSES = ("127.0.0.1", "::1")
_CA_YEARS = 10
# Short, as it is made again at every start anyway.
_SERVER_DAYS = 90
# Clocks of containers and hosts may disagree a little: certificates are valid from a bit ago.
_BACKDATE = datetime.timedelta(hours=1)


@dataclass(frozen=True)
class LocalAuthority:
    """Where the CA's certificate and the server's certificate and key are."""

    ca_file: Path
    server_cert_file: Path
    server_key_file: Path

    def server_context(self) -> ssl.SSLContext:
        """What the capture server presents (STARTTLS and implicit TLS alike)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert_file, self.server_key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client that trusts this CA alone: what a test connects with."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def ca_file_in(state_dir: Path) -> Path:
    """Where the local CA's certificate is kept (what a client of the capture server trusts)."""
    return state_dir / TLS_DIRECTORY / "ca.pem"


def local_authority(state_dir: Path) -> LocalAuthority:
    """The CA kept in `state_dir` (made on first use), and a server certificate it just issued."""
    ca_file = ca_file_in(state_dir)
    directory = private_directory(ca_file.parent)
    ca_key_file = directory / "ca-key.pem"
    if ca_file.exists() and ca_key_file.exists():
        ca_cert, ca_key = _load(ca_file, ca_key_file)
    else:
        ca_cert, ca_key = _new_ca()
        write_private(ca_key_file, _key_pem(ca_key), durable=True)
        write_private(ca_file, ca_cert.public_bytes(serialization.Encoding.PEM), durable=True)
    server_cert, server_key = _issue_server(ca_cert, ca_key)
    authority = LocalAuthority(ca_file, directory / "server.pem", directory / "server-key.pem")
    write_private(authority.server_key_file, _key_pem(server_key), durable=False)
    chain = server_cert.public_bytes(serialization.Encoding.PEM)
    write_private(authority.server_cert_file, chain, durable=False)
    return authority


def _load(ca_file: Path, ca_key_file: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    for path in (ca_file, ca_key_file):
        require_private_file(path)
    key = serialization.load_pem_private_key(ca_key_file.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SystemExit(f"{ca_key_file} is no key of the local CA: `make dev-reset` makes one.")
    return x509.load_pem_x509_certificate(ca_file.read_bytes()), key


def _new_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=365 * _CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def _issue_server(
    ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in SERVER_NAMES]
    names += [x509.IPAddress(ipaddress.ip_address(address)) for address in SERVER_ADDRESSES]
    ca_key_id = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAMES[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=_SERVER_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_key_id),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return certificate, key


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
