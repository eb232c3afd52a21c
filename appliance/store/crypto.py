"""Keys derived from the master key, and the sealing of images (AES-256-GCM, keys wrapped with AES-KW).

Each image gets its own random 256-bit key; the image file holds `nonce || ciphertext+tag`
only, and the image key, wrapped (RFC 3394 AES key wrap) under a key derived from the
master key, lives in the read's row. Deleting that row's wrapped key (with SQLite's
secure_delete on) destroys the image even where the file's blocks linger on flash.

The associated data names the read and the kind, so a file moved under another read's
name, or a crop swapped for a frame, fails authentication instead of showing the wrong car.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from appliance.errors import StoreError

NONCE_BYTES = 12
TAG_BYTES = 16
_DB_INFO = b"alpr-store database key v1"
_WRAP_INFO = b"alpr-store image key wrapping v1"


class ImageDamagedError(StoreError):
    """An image file is missing, truncated or altered: that image only, never the store."""


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def database_key(master: bytes) -> str:
    """SQLCipher's raw-key form `x'<64 hex>'` (no passphrase KDF: each connection opens in microseconds)."""
    return f"x'{_derive(master, _DB_INFO).hex()}'"


def wrapping_key(master: bytes) -> bytes:
    """The key-encryption key that wraps every image key."""
    return _derive(master, _WRAP_INFO)


def image_aad(read_id: str, kind: str) -> bytes:
    return f"alpr image {read_id} {kind}".encode()


def seal(plain: bytes, kek: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """(file bytes, wrapped key) for one image, all in memory."""
    key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plain, aad), aes_key_wrap(kek, key)


def unwrap(wrapped: bytes, kek: bytes, what: str) -> bytes:
    """The image key; a failure here means the wrong master key or a damaged row, not a damaged file."""
    try:
        return aes_key_unwrap(kek, bytes(wrapped))
    except (InvalidUnwrap, ValueError):
        raise StoreError(f"the key of {what} does not unwrap under this store's master key") from None


def open_sealed(blob: bytes, wrapped: bytes, kek: bytes, aad: bytes, what: str) -> bytes:
    """The plaintext of a sealed image; ImageDamagedError when the file fails authentication."""
    key = unwrap(wrapped, kek, what)
    if len(blob) < NONCE_BYTES + TAG_BYTES:
        raise ImageDamagedError(f"{what} is damaged: its file holds {len(blob)} bytes, too few for an image")
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag:
        raise ImageDamagedError(f"{what} is damaged: its file fails authentication (altered or corrupt)") from None


def rewrap(wrapped: bytes, old_kek: bytes, new_kek: bytes, what: str) -> bytes:
    """The same image key wrapped under a new key-encryption key (the file is untouched)."""
    return aes_key_wrap(new_kek, unwrap(wrapped, old_kek, what))


_HUB_WRAP_INFO = b"alpr-store hub-bound master key wrapping v1"
HUB_WRAP_MAGIC = b"alpr hub-bound key v1\n"  # then RFC 3394 AES-KW of the master key (40 bytes)
MIN_SECRET_BYTES = 16


def wrap_master(secret: bytes, master: bytes) -> bytes:
    """The hub-bound key file's bytes: the master key wrapped under a key derived from the hub's device secret."""
    return HUB_WRAP_MAGIC + aes_key_wrap(_hub_kek(secret), master)


def unwrap_master(secret: bytes, blob: bytes, what: str) -> bytes:
    """The master key out of a hub-bound key file; StoreError when the secret is not the one it was wrapped with."""
    if not blob.startswith(HUB_WRAP_MAGIC) or len(blob) != len(HUB_WRAP_MAGIC) + 40:
        raise StoreError(f"{what} is not a hub-bound store key file (damaged, or another kind of file)")
    try:
        return aes_key_unwrap(_hub_kek(secret), blob[len(HUB_WRAP_MAGIC):])
    except (InvalidUnwrap, ValueError):
        raise StoreError(f"the device secret the hub handed out does not unwrap {what}: the hub knows this "
                         "device under another secret (re-enrolled?) or the file belongs to another device") from None


def _hub_kek(secret: bytes) -> bytes:
    if len(secret) < MIN_SECRET_BYTES:
        raise StoreError(f"the hub's device secret holds {len(secret)} bytes; at least {MIN_SECRET_BYTES} are needed")
    return _derive(secret, _HUB_WRAP_INFO)
