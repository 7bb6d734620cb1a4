"""The life of a local server, shared by scripts/local_aws/local_aws.py and scripts/local_apigw.py:
announce the port, then run until SIGTERM, SIGINT, or the process that started it goes away.

A test spawns the server with a pipe on its stdin; when the test ends, even by SIGKILL, the pipe
closes and the server stops. With stdin on /dev/null, a file or a terminal nothing is watched, so
``server.py &`` from a shell script keeps running.
"""

from __future__ import annotations

import logging
import os
import signal
import stat
import threading
from typing import Any


def stdin_is_watchable() -> bool:
    """Whether stdin is a pipe or a socket, whose end of file means "the parent is gone"."""
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def watch_stdin(stopping: threading.Event, log: logging.Logger) -> None:
    """Reads stdin until end of file, then sets ``stopping``."""
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass
    log.info("stdin closed: stopping")
    stopping.set()


def start(stopping: threading.Event, log: logging.Logger) -> None:
    """Watches stdin in a daemon thread when it is a pipe or a socket."""
    if stdin_is_watchable():
        threading.Thread(
            target=watch_stdin, args=(stopping, log), name="stdin", daemon=True
        ).start()


def run_until_stopped(
    stopping: threading.Event, log: logging.Logger, real_stdout: int, port: int
) -> None:
    """Stops on SIGTERM, SIGINT or stdin's end (`stopping` set), prints ``PORT <port>`` on the
    real stdout (the one line a starter waits for) and closes it, then waits until stopped."""

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping", signum)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    start(stopping, log)
    os.write(real_stdout, f"PORT {port}\n".encode())
    os.close(real_stdout)
    while not stopping.wait(1.0):
        pass
