"""``gemini-proxy serve --workers N``: N proxy processes on one host sharing one port.

Each worker is a whole proxy (its own event loop, pool mirror and upstream connections)
that binds the port with ``SO_REUSEPORT``, so the kernel spreads new connections across
the workers. They share key state through Redis, so more than one worker needs
``state.redis_url``: without it ``serve_workers`` refuses with exit status 2.

The parent only supervises. It starts the workers (``spawn``: fresh interpreters, no
state inherited), forwards SIGTERM and SIGINT to them, waits while they finish their
graceful shutdown, and exits 0 when all of them exited 0. Workers run in their own
process group, so a Ctrl+C in a terminal reaches them once, through the parent; a worker
whose parent is gone shuts itself down. A worker that dies on its own is started again,
at most ``MAX_RESTARTS`` times within ``RESTART_WINDOW_S``; past that the parent stops the
others and exits 1.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Final

from gemini_proxy.config import Settings

EXIT_CONFIG: Final = 2
EXIT_FAILED: Final = 1
MAX_RESTARTS: Final = 5
RESTART_WINDOW_S: Final = 60.0
STOP_MARGIN_S: Final = 15.0  # beyond the graceful shutdown period, before a worker is killed
ORPHAN_CHECK_S: Final = 1.0

# ``serve(settings, host, port, reuse_port)``: run one proxy until it is told to stop.
ServeFn = Callable[[Settings, str, int, bool], None]


def refusal(settings: Settings, workers: int) -> str | None:
    """Why ``workers`` processes cannot serve these settings, or ``None`` if they can."""
    if workers < 1:
        return "--workers must be at least 1"
    if workers > 1 and not settings.state.redis_url:
        return (
            f"--workers {workers} needs state.redis_url: worker processes share key state "
            "(cooldowns, disables, usage counters) through Redis"
        )
    return None


def serve_workers(settings: Settings, host: str, port: int, workers: int, serve: ServeFn) -> int:
    """Run ``workers`` processes of ``serve`` on ``host:port``; the exit status for the CLI."""
    problem = refusal(settings, workers)
    if problem is not None:
        print(f"gemini-proxy: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    reserved = None
    if port == 0:  # pick the port once, for every worker; keep it reserved while they run
        reserved = _reuse_port_socket(host)
        port = int(reserved.getsockname()[1])
    try:
        return Supervisor(settings, host, port, workers, serve).run()
    finally:
        if reserved is not None:
            reserved.close()


def _reuse_port_socket(host: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, 0))
    return sock


def _worker_main(serve: ServeFn, settings: Settings, host: str, port: int, parent: int) -> None:
    """A worker process: its own process group, an orphan check, then the proxy itself."""
    os.setpgid(0, 0)
    threading.Thread(target=_stop_when_orphaned, args=(parent,), name="orphan-check", daemon=True).start()
    serve(settings, host, port, True)


def _stop_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_S)
    os.kill(os.getpid(), signal.SIGTERM)  # the server's own graceful shutdown


class Supervisor:
    """Starts, restarts and stops the worker processes (see the module docstring)."""

    def __init__(self, settings: Settings, host: str, port: int, workers: int, serve: ServeFn) -> None:
        self._settings = settings
        self._host = host
        self._port = port
        self._count = workers
        self._serve = serve
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[BaseProcess] = []
        self._restarts: list[float] = []
        self._stop_signal: int | None = None

    def run(self) -> int:
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        previous_wakeup = signal.set_wakeup_fd(wake_write)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._workers = [self._spawn() for _ in range(self._count)]
            print(
                f"gemini-proxy: {self._count} workers on http://{self._host}:{self._port} "
                f"(pids {', '.join(str(worker.pid) for worker in self._workers)})",
                flush=True,
            )
            gave_up = self._supervise(wake_read)
            status = self._stop_all()
            return EXIT_FAILED if gave_up else status
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            os.close(wake_read)
            os.close(wake_write)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop_signal = signum

    def _spawn(self) -> BaseProcess:
        process = self._context.Process(
            target=_worker_main,
            args=(self._serve, self._settings, self._host, self._port, os.getpid()),
            name="gemini-proxy-worker",
        )
        process.start()
        return process

    def _supervise(self, wake_read: int) -> bool:
        """Until a stop signal: restart workers that die. Whether it gave up on one."""
        while self._stop_signal is None:
            sentinels = [worker.sentinel for worker in self._workers]
            ready = multiprocessing.connection.wait([*sentinels, wake_read], timeout=1.0)
            if wake_read in ready:
                os.read(wake_read, 512)
            if self._stop_signal is not None:
                return False
            for index, worker in enumerate(self._workers):
                if worker.is_alive():
                    continue
                if not self._may_restart():
                    print(
                        f"gemini-proxy: worker {worker.pid} exited with status {worker.exitcode}; "
                        f"more than {MAX_RESTARTS} restarts in {RESTART_WINDOW_S:.0f} s, stopping",
                        file=sys.stderr,
                        flush=True,
                    )
                    return True
                self._workers[index] = self._spawn()
                print(
                    f"gemini-proxy: worker {worker.pid} exited with status {worker.exitcode}; "
                    f"started {self._workers[index].pid}",
                    file=sys.stderr,
                    flush=True,
                )
        return False

    def _may_restart(self) -> bool:
        now = time.monotonic()
        self._restarts = [at for at in self._restarts if now - at < RESTART_WINDOW_S]
        if len(self._restarts) >= MAX_RESTARTS:
            return False
        self._restarts.append(now)
        return True

    def _stop_all(self) -> int:
        """SIGTERM every worker, wait for the graceful shutdowns; 0 if every worker exited 0."""
        for worker in self._workers:
            if worker.is_alive() and worker.pid is not None:
                os.kill(worker.pid, signal.SIGTERM)
        deadline = time.monotonic() + self._settings.server.shutdown_grace_s + STOP_MARGIN_S
        status = 0
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                worker.kill()
                worker.join()
            if worker.exitcode != 0:
                status = EXIT_FAILED
        return status
