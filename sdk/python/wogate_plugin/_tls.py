"""AutoMTLS as go-plugin (v1.8) does it, plugin side.

The host generates a client certificate per plugin process and passes it
in PLUGIN_CLIENT_CERT (PEM). The plugin answers with a certificate of its
own, generated at start, in the handshake line: the DER of the leaf in
unpadded standard base64 (go-plugin's protocol line cannot carry PEM's
newlines). Each side then trusts exactly the other's certificate, and the
host checks the name "localhost".
"""

import base64
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class ServerCert:
    """A fresh self-signed certificate and key (PEM), and the handshake form."""

    def __init__(self, cert_pem, key_pem, der):
        self.cert_pem = cert_pem
        self.key_pem = key_pem
        self.der = der

    @property
    def handshake(self):
        return base64.b64encode(self.der).decode("ascii").rstrip("=")


def generate():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "wogate plugin"),
    ])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # go-plugin backdates by 30 s too: the host's clock may be a little behind.
        .not_valid_before(now - datetime.timedelta(seconds=30))
        # The process lives as long as the host wants it; a restart makes a new one.
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        # Self-signed and trusted directly, so it is its own CA (as go-plugin's is).
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=True, key_cert_sign=True, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return ServerCert(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()),
        der=cert.public_bytes(serialization.Encoding.DER),
    )


def check_client_cert(pem):
    """Parses the host's certificate; raises ValueError with a reason."""
    if not pem:
        raise ValueError("PLUGIN_CLIENT_CERT is empty")
    try:
        x509.load_pem_x509_certificate(pem.encode("ascii") if isinstance(pem, str) else pem)
    except Exception as e:
        raise ValueError("PLUGIN_CLIENT_CERT is not a PEM certificate: %s" % e) from None
