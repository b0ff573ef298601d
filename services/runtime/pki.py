"""Service identities: every process proves who it is with its own X.509 certificate, and every gRPC
connection is mutual TLS (docs/security.md). The identity is the certificate's SPIFFE ID in its URI SAN,
`spiffe://counsel/<name>` (`payment`, `worker`, `gateway`, …).

Locally `counsel up` keeps a small authority in `<data dir>/run/pki` (`LocalAuthority`) and issues each
process a short-lived certificate at start; in a cluster cert-manager issues them from the chart's issuer
and they arrive as files. Either way a process reads three files: the CA bundle, its certificate, its key."""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SPIFFE_TRUST_DOMAIN = "spiffe://counsel/"
# Local certificates live a week: long enough for a developer's stack, short enough that a copied key
# stops working soon. `counsel up` issues fresh ones at every start.
LOCAL_CERTIFICATE_LIFETIME = datetime.timedelta(days=7)
CA_LIFETIME = datetime.timedelta(days=365)


def spiffe_id(identity: str) -> str:
    return f"{SPIFFE_TRUST_DOMAIN}{identity}"


def identity_of(spiffe: str) -> str:
    """`payment` for `spiffe://counsel/payment`; "" for anything outside counsel's trust domain."""
    if not spiffe.startswith(SPIFFE_TRUST_DOMAIN):
        return ""
    name = spiffe.removeprefix(SPIFFE_TRUST_DOMAIN)
    return name if name and "/" not in name else ""


@dataclass(frozen=True)
class TlsFiles:
    """Where a process finds its trust anchor, certificate and key (COUNSEL_TLS_*_FILE)."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def read(self) -> TlsMaterial:
        return TlsMaterial(self.ca_file.read_bytes(), self.cert_file.read_bytes(), self.key_file.read_bytes())


@dataclass(frozen=True)
class TlsMaterial:
    """PEM bytes: the CA bundle that signs every counsel identity, this process's certificate and key."""

    ca: bytes
    cert: bytes
    key: bytes

    @property
    def identity(self) -> str:
        """The SPIFFE name in this certificate (what peers will see this process as)."""
        certificate = x509.load_pem_x509_certificate(self.cert)
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
            if identity_of(uri):
                return identity_of(uri)
        return ""


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


class LocalAuthority:
    """A certificate authority in a folder (`ca.pem`, `ca.key`), made on first use. Issues ECDSA P-256
    certificates valid for both ends of a connection, naming one identity and the loopback addresses."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        self.ca_file = directory / "ca.pem"
        key_file = directory / "ca.key"
        now = datetime.datetime.now(datetime.UTC)
        if self.ca_file.exists() and key_file.exists():
            self.certificate = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
            loaded = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
            assert isinstance(loaded, ec.EllipticCurvePrivateKey)
            self.key = loaded
            if self.certificate.not_valid_after_utc > now + LOCAL_CERTIFICATE_LIFETIME:
                return
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "counsel local authority")])
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + CA_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )
        _write_private(key_file, _key_pem(self.key))
        self.ca_file.write_bytes(_pem(self.certificate))

    def issue(
        self,
        identity: str,
        *,
        lifetime: datetime.timedelta = LOCAL_CERTIFICATE_LIFETIME,
        hosts: tuple[str, ...] = ("localhost", "127.0.0.1"),
    ) -> TlsFiles:
        """A new key and certificate for `identity`, written as `<identity>.pem` / `<identity>.key`."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(spiffe_id(identity))]
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity)]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(min(now + lifetime, self.certificate.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        cert_file = self.directory / f"{identity}.pem"
        key_file = self.directory / f"{identity}.key"
        _write_private(key_file, _key_pem(key))
        cert_file.write_bytes(_pem(certificate))
        return TlsFiles(self.ca_file, cert_file, key_file)
