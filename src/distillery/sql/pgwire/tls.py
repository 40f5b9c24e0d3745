"""Optional TLS: a self-signed certificate generated in the home, and the server's SSL context.

The certificate names `localhost`, 127.0.0.1 and the host the server listens on, and is its
own CA, so a client can verify it fully with `sslmode=verify-full sslrootcert={home}/pgwire/
server.crt`. The private key is readable by the owner only.
"""

from __future__ import annotations

import ipaddress
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

from distillery.sql.pgwire.credentials import folder, write_private

CERT_FILE, KEY_FILE = "server.crt", "server.key"


def certificate_paths(home: Path) -> tuple[Path, Path]:
    """Where the certificate and its key live."""
    return folder(home) / CERT_FILE, folder(home) / KEY_FILE


def ensure_certificate(home: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """The home's certificate and key, generated on first use (valid for one year)."""
    cert_path, key_path = certificate_paths(home)
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    cert_pem, key_pem = _self_signed(host)
    write_private(key_path, key_pem)
    write_private(cert_path, cert_pem)
    cert_path.chmod(0o644)  # a certificate is public; clients need it as sslrootcert
    return cert_path, key_path


def _self_signed(host: str) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Distillery Query Service")])
    names: list[x509.GeneralName] = [x509.DNSName("localhost"),
                                     x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    try:
        if host not in ("127.0.0.1", "localhost"):
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.append(x509.DNSName(host))
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A TLS 1.2+ server context for the certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context
