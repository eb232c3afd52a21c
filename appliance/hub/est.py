"""EST (RFC 7030) wire formats: what enrolment sends and gets back.

EST moves certificate requests as base64 DER PKCS#10 (`application/pkcs10`) and certificates
as base64 DER PKCS#7 "certs-only" (`application/pkcs7-mime; smime-type=certs-only`). Both the
device (appliance/provision/enrol.py) and the hub side (enrolment_ca.py) use these helpers,
so the two cannot drift apart.
"""

from __future__ import annotations

import base64
import binascii

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

CACERTS = "/.well-known/est/cacerts"
SIMPLEENROLL = "/.well-known/est/simpleenroll"
SIMPLEREENROLL = "/.well-known/est/simplereenroll"
PKCS10 = "application/pkcs10"
PKCS7 = "application/pkcs7-mime; smime-type=certs-only"


class EstFormatError(ValueError):
    """A body that is not the base64 DER structure EST says it must be."""


def encode_csr(csr: x509.CertificateSigningRequest) -> bytes:
    return base64.encodebytes(csr.public_bytes(serialization.Encoding.DER))


def decode_csr(body: bytes) -> x509.CertificateSigningRequest:
    try:
        return x509.load_der_x509_csr(base64.b64decode(body, validate=False))
    except (ValueError, binascii.Error) as e:
        raise EstFormatError(f"the body is not a base64 DER PKCS#10 certificate request ({e})") from None


def encode_certs(certs: list[x509.Certificate]) -> bytes:
    return base64.encodebytes(pkcs7.serialize_certificates(certs, serialization.Encoding.DER))


def decode_certs(body: bytes) -> list[x509.Certificate]:
    try:
        certs = pkcs7.load_der_pkcs7_certificates(base64.b64decode(body, validate=False))
    except (ValueError, binascii.Error) as e:
        raise EstFormatError(f"the body is not a base64 DER PKCS#7 certs-only structure ({e})") from None
    if not certs:
        raise EstFormatError("the PKCS#7 structure holds no certificate")
    return certs
