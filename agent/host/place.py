"""Where the agent host lives and how a client reaches it: socket, lock, log, start-up.

One host per state directory: ``host.sock`` (a Unix socket only its user may open: mode 0600
inside a directory of mode 0700, and every peer's uid checked), ``host.lock`` (held for the
host's whole life, so a second host never starts; a lock nobody holds is stale and so is the
socket beside it) and ``host.log``. ``connect`` reaches the running host or starts one
(detached, in its own session, logging to ``host.log``) and waits for it to listen; two clients
racing to start one get the same host. ``VERSION`` and ``key_proof`` are the handshake's
two checks, here so that a client reaches a running host without importing the harness.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import hashlib
import hmac
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from agent.host.early import env_state_dir
from agent.host.rpc import MAX_LINE, Connection

START_TIMEOUT_S = 20.0
VERSION = "0.2.0"


def key_proof(salt: str, environ: dict[str, str] | os._Environ[str] | None = None) -> str:
    """What a client sends instead of its API key: an HMAC of the key over the host's salt."""
    env = os.environ if environ is None else environ
    key = env.get("ANTHROPIC_API_KEY") or env.get("ANTHROPIC_AUTH_TOKEN") or ""
    return hmac.new(salt.encode(), key.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class HostPlace:
    state_dir: Path

    @property
    def socket(self) -> Path:
        return self.state_dir / "host.sock"

    @property
    def lock(self) -> Path:
        return self.state_dir / "host.lock"

    @property
    def log(self) -> Path:
        return self.state_dir / "host.log"

    def prepare(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            os.chmod(self.state_dir, 0o700)
        except PermissionError:
            pass

    def take_lock(self) -> int | None:
        """The lock's file descriptor if this process now holds it, else None (a host runs)."""
        self.prepare()
        fd = os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return fd

    def holder(self) -> int | None:
        """The pid of the running host, or None when nobody holds the lock."""
        fd = self.take_lock()
        if fd is not None:
            os.close(fd)
            return None
        try:
            return int(self.lock.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return -1


def peer_uid(sock: socket.socket) -> int | None:
    """The connecting process's uid (Linux ``SO_PEERCRED``; macOS ``getpeereid``), if known."""
    if hasattr(socket, "SO_PEERCRED"):
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return int(struct.unpack("3i", raw)[1])
    getpeereid = getattr(os, "getpeereid", None)  # not in the standard library everywhere
    return int(getpeereid(sock.fileno())[0]) if getpeereid else None


def spawn(place: HostPlace, idle_timeout: float | None = None, *, wait: bool = True) -> None:
    """Start a host detached from this process: its own session, its log in the state dir,
    and not our child (the launcher forks it and exits, so no zombie is left with us; with
    ``wait`` False a daemon thread reaps the launcher and this returns at once)."""
    place.prepare()
    command = [sys.executable, "-m", "agent.host", "--detach", "--state-dir", str(place.state_dir)]
    if idle_timeout is not None:
        command += ["--idle-timeout", str(idle_timeout)]
    with open(place.log, "ab") as log:
        launcher = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    start_new_session=True, close_fds=True, cwd=str(place.state_dir))
    if wait:
        try:
            launcher.wait(timeout=30)
        except subprocess.TimeoutExpired:
            launcher.kill()
            launcher.wait()
    else:
        threading.Thread(target=launcher.wait, name="host-launcher", daemon=True).start()


MAX_SOCKET_PATH = 100  # AF_UNIX paths are limited to about 104-108 bytes


def _connected_socket(place: HostPlace) -> socket.socket:
    """A socket connected to the host, also when the state dir's path is too long for AF_UNIX
    (Linux: through ``/proc/self/fd`` of the directory, a short path to the same file)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        path = str(place.socket)
        if len(path.encode()) <= MAX_SOCKET_PATH or not os.path.isdir("/proc/self/fd"):
            sock.connect(path)
            return sock
        folder = os.open(place.state_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            sock.connect(f"/proc/self/fd/{folder}/{place.socket.name}")
        finally:
            os.close(folder)
        return sock
    except BaseException:
        sock.close()
        raise


async def open_connection(place: HostPlace, name: str) -> Connection | None:
    try:
        sock = _connected_socket(place)
        reader, writer = await asyncio.open_unix_connection(sock=sock, limit=MAX_LINE)
    except (FileNotFoundError, ConnectionRefusedError, OSError):
        return None
    return Connection(reader, writer, name)


async def connect(place: HostPlace, name: str, *, start: bool = True, idle_timeout: float | None = None,
                  timeout: float = START_TIMEOUT_S) -> Connection:
    """A connection to the state dir's host, starting one when none runs (``start``)."""
    connection = await open_connection(place, name)
    if connection is not None:
        return connection
    if not start:
        raise ConnectionRefusedError(f"no agent host runs for {place.state_dir}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if place.holder() is None:  # nobody holds the lock: start one (a racing twin just exits)
            await asyncio.to_thread(spawn, place, idle_timeout)
        connection = await open_connection(place, name)
        if connection is not None:
            return connection
        await asyncio.sleep(0.005)  # a connect attempt that fails costs microseconds
    raise TimeoutError(f"the agent host did not start within {timeout:g} s; see {place.log}")
