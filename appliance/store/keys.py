"""Where the store's 32-byte master key comes from: a key file (local) or wrapped by the hub's secret (hub).

The master key never protects data directly: `crypto.py` derives the database key and the
image-key wrapping key from it, so one secret unlocks the store and rotating it changes both.

Rules (POLICY DS-3): the key is made on the device (`secrets.token_bytes(32)`), never
shipped, kept apart from the data (a file outside the store folder, mode 0600, or a systemd
credential), never overwritten, and a store that exists without its key is an error:
silently making a new key would orphan every existing read.

Key file layout beside `PATH` (all in the key folder, never in the store folder)::

    PATH        the master key, 32 raw bytes
    PATH.new    a rotation's new key, staged before the database is re-keyed (admin.py)
    PATH.old    the previous key between a rotation's swap and its shredding
    PATH.hub    hub-bound mode (DS-5): the master key wrapped (AES-KW) under the hub's device secret

Hub-bound mode (`store.unlock = "hub"`, POLICY DS-5): `HubBoundKey` keeps on disk only the
master key wrapped under a secret that the hub hands to this device's enrolled certificate
over mutual TLS (appliance/hub/device_secret.py fetches it). The secret is never written
anywhere, so a device taken off its network cannot open its own store; once unwrapped, the
master key stays in the process's memory, so a running device rides out hub outages. The
database key is derived from the same master key either way, so binding a local store to
the hub (`bind_to_hub`) writes PATH.hub and shreds PATH without touching the database.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path
from collections.abc import Callable
from typing import Mapping, Protocol, runtime_checkable

from appliance.errors import StoreError
from appliance.store import crypto
from appliance.store.files import fsync_dir

log = logging.getLogger(__name__)

KEY_BYTES = 32
DEFAULT_KEY_FILE = Path("/var/lib/alpr-keys/store.key")
CREDENTIAL_NAME = "store-key"  # systemd: LoadCredentialEncrypted=store-key:/etc/credstore.encrypted/alpr-store-key


class KeyProvider(Protocol):
    """Unlocks a store: gives its master key, or makes one for a store that has none yet.

    `path` is the file the key is kept in (both providers keep one); the device's signing
    key lives in the same folder (audit/signing.py), which is how a store finds it.
    """

    path: Path

    def load(self, *, create: bool = False) -> bytes:
        """The 32-byte master key; `create=True` only for a store that holds no encrypted data yet."""
        ...

    def describe(self) -> str:
        """Where the key comes from, for error messages (never the key itself)."""
        ...


@runtime_checkable
class RotatableKey(Protocol):
    """A provider that can stage, swap and destroy keys (what `rotate_key` and `wipe` need)."""

    path: Path

    @property
    def staged_path(self) -> Path: ...
    @property
    def old_path(self) -> Path: ...
    def load(self, *, create: bool = False) -> bytes: ...
    def describe(self) -> str: ...
    def staged(self) -> bytes | None: ...
    def stage(self, key: bytes) -> None: ...
    def commit_staged(self) -> None: ...
    def discard_staged(self) -> None: ...
    def destroy(self) -> list[Path]: ...


def default_key_path(env: Mapping[str, str] | None = None) -> Path:
    """`$CREDENTIALS_DIRECTORY/store-key` under systemd, else /var/lib/alpr-keys/store.key."""
    env = os.environ if env is None else env
    cred = env.get("CREDENTIALS_DIRECTORY")
    return Path(cred) / CREDENTIAL_NAME if cred else DEFAULT_KEY_FILE


class LocalKeyFile:
    """The master key in a file with mode 0600 outside the store folder."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_key_path()

    @property
    def staged_path(self) -> Path:
        return self.path.with_name(self.path.name + ".new")

    @property
    def old_path(self) -> Path:
        return self.path.with_name(self.path.name + ".old")

    def describe(self) -> str:
        return f"key file {self.path}"

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self, *, create: bool = False) -> bytes:
        if not self.path.exists():
            if not create:
                raise StoreError(f"the store key file {self.path} is missing and the store already holds "
                                 "encrypted data: restore that key file (a new key cannot open old data)")
            key = secrets.token_bytes(KEY_BYTES)
            try:
                _write_new(self.path, key)
            except FileExistsError:  # another process opening a new store made it a moment ago
                return _read_key(self.path)
            log.warning("created a new store master key in %s", self.path)
            return key
        return _read_key(self.path)

    def staged(self) -> bytes | None:
        """The key a rotation staged, or None."""
        return _read_key(self.staged_path) if self.staged_path.exists() else None

    def stage(self, key: bytes) -> None:
        """Write the next key beside the current one (durably) before anything uses it."""
        if self.staged_path.exists():
            raise StoreError(f"{self.staged_path} exists: an earlier rotation did not finish; open the store "
                             "once (it finishes or discards that rotation), then rotate again")
        _check_key(key, "the new key")
        try:
            _write_new(self.staged_path, key)
        except FileExistsError:
            raise StoreError(f"{self.staged_path} appeared while staging a new key; is another rotation "
                             "running?") from None

    def commit_staged(self) -> None:
        """Make the staged key the key; the previous one is shredded, never left on disk."""
        shred(self.old_path)  # a leftover of an interrupted swap (a second name of the key, or an old key)
        if self.path.exists():
            os.link(self.path, self.old_path)  # keep a name for the old key until the swap is durable
        os.replace(self.staged_path, self.path)  # atomic: PATH always holds a whole key
        fsync_dir(self.path.parent)
        shred(self.old_path)

    def discard_staged(self) -> None:
        """Destroy a staged key that never protected anything (a rotation that did not commit)."""
        shred(self.staged_path)

    def destroy(self) -> list[Path]:
        """Overwrite and delete the key, any staged or old key and its hub-bound copy; return what was destroyed."""
        hub_bound = self.path.with_name(self.path.name + HUB_SUFFIX)  # a store bound to the hub (bind_to_hub)
        gone = [p for p in (self.path, self.staged_path, self.old_path, hub_bound) if p.exists()]
        for p in gone:
            shred(p)
        return gone


HUB_SUFFIX = ".hub"


def default_hub_key_path(env: Mapping[str, str] | None = None) -> Path:
    """The hub-bound key file beside where the local key file would be (PATH.hub)."""
    local = default_key_path(env)
    return local.with_name(local.name + HUB_SUFFIX)


class HubBoundKey:
    """The master key wrapped under the hub's device secret (DS-5); `fetch_secret` asks the hub each time.

    `fetch_secret` raises StoreError saying why the hub did not hand out the secret
    (device_secret.py); the secret is used and dropped, the unwrapped key kept in memory.
    """

    def __init__(self, path: Path | str | None, fetch_secret: Callable[[], bytes], source: str = "the hub") -> None:
        self.path = Path(path) if path is not None else default_hub_key_path()
        self._fetch = fetch_secret
        self.source = source
        self._master: bytes | None = None

    def describe(self) -> str:
        return f"hub-bound key file {self.path} (unwrapped with the device secret from {self.source})"

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self, *, create: bool = False) -> bytes:
        if self._master is not None:  # already unwrapped in this process: the hub may be down now
            return self._master
        if not self.path.exists():
            if not create:
                raise StoreError(f"the hub-bound store key file {self.path} is missing and the store already "
                                 "holds encrypted data: restore that file (the hub's secret alone cannot open it)")
            master = secrets.token_bytes(KEY_BYTES)
            try:
                _write_new(self.path, crypto.wrap_master(self._fetch(), master))
            except FileExistsError:  # another process made it a moment ago
                return self.load()
            log.warning("created a new hub-bound store master key in %s", self.path)
        else:
            master = crypto.unwrap_master(self._fetch(), _read_secret_file(self.path, "hub-bound store key file"),
                                          f"the hub-bound store key file {self.path}")
        self._master = master
        return master

    def forget(self) -> None:
        """Drop the unwrapped key from memory: the next `load` must ask the hub again."""
        self._master = None


def bind_to_hub(local: LocalKeyFile, hub: HubBoundKey) -> Path:
    """Convert a local-mode store to hub mode: wrap its master key under the hub's secret, then shred the key file.

    The database is untouched (same master key). Order matters: PATH.hub is written and
    unwrapped again with a second fetch of the secret before PATH is shredded, so an
    interruption anywhere leaves a key that opens the store. Run it with the store closed.
    """
    if hub.path.exists():
        raise StoreError(f"{hub.path} exists: this store is already bound to the hub")
    if local.staged_path.exists() or local.old_path.exists():
        raise StoreError(f"a key rotation did not finish ({local.staged_path} or {local.old_path} exists): open the "
                         "store once in local mode to settle it, then bind it to the hub")
    master = local.load()
    _write_new(hub.path, crypto.wrap_master(hub._fetch(), master))
    hub.forget()
    if hub.load() != master:
        raise StoreError(f"{hub.path} did not unwrap to the store's key; {local.path} is kept")
    shred(local.path)
    log.warning("store key bound to the hub: %s written, %s shredded", hub.path, local.path)
    return hub.path


def shred(path: Path) -> None:
    """Overwrite a small secret file with random bytes, fsync, delete; no-op when absent.

    On flash (wear levelling) the old bytes may survive elsewhere: this removes the easy
    copy, and the real protection is that the key never sits beside the data.
    """
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return
    try:
        st = os.fstat(fd)
        if st.st_nlink == 1:  # with another name (the live key during a swap) only this name goes
            os.write(fd, secrets.token_bytes(max(st.st_size, KEY_BYTES)))
            os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink()
    fsync_dir(path.parent)


def _check_key(key: bytes, what: str) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        got = f"{len(key)} bytes" if isinstance(key, bytes) else type(key).__name__
        raise StoreError(f"{what} must be exactly {KEY_BYTES} bytes; got {got}")


def _read_secret_file(path: Path, what: str) -> bytes:
    """A small key file's bytes, after checking that others cannot read it."""
    st = path.stat()
    if stat.S_IMODE(st.st_mode) & 0o027:
        raise StoreError(f"{what} {path} has mode {stat.S_IMODE(st.st_mode):04o}: others must not "
                         f"read it; run chmod 600 {path}")
    return path.read_bytes()


def _read_key(path: Path) -> bytes:
    key = _read_secret_file(path, "store key file")
    if len(key) != KEY_BYTES:
        raise StoreError(f"store key file {path} holds {len(key)} bytes; a store key is exactly {KEY_BYTES} raw bytes")
    return key


def _write_new(path: Path, key: bytes) -> None:
    """Write `key` to `path` durably, mode 0600; FileExistsError rather than replace a file.

    A temp file is written and fsynced, then hard-linked to the final name: `link` fails
    when the name exists, so two processes creating a key at once cannot both win.
    """
    folder = path.parent
    if not folder.is_dir():
        try:
            folder.mkdir(mode=0o700, parents=True)
        except OSError as e:
            raise StoreError(f"cannot create the key folder {folder}: {e.strerror}; give a key file path "
                             "you can write (outside the store folder)") from None
        fsync_dir(folder.parent)
    tmp = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as e:
        raise StoreError(f"cannot write a key file in {folder}: {e.strerror}") from None
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # FileExistsError when the name is taken: a key is never overwritten
    finally:
        tmp.unlink()
    fsync_dir(folder)
