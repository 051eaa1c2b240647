"""The session's export runs, each in a process of its own beside the tests, two at a time.

The heavy steps of an export (torch.export, the converters' lowerings, GPTQ, the gates) mostly keep one core
busy, so the runs the collected tests need start as the session starts, two side by side, while the tests that
need none run; a test that needs a run waits for it. A run a test asks for that has not started yet is taken
out of the queue and run at once. Each run's duration is kept for the session's closing table.
"""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Hashable

STREAMS = 2


@dataclass(frozen=True)
class ProcessRun:
    code: int
    cwd: Path
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Timing:
    label: str
    seconds: float
    waited: float  # how long the first test that needed it waited


class Once:
    """Values made once, by whichever thread asks first, while the others wait; a failure is raised to each."""

    def __init__(self):
        self._guard = threading.Lock()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._values: dict[Hashable, object] = {}

    def get(self, key: Hashable, make: Callable[[], object]):
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                self._values[key] = make()
            return self._values[key]


RUNNING: set[subprocess.Popen] = set()  # ended by Farm.close when the session ends early
CLOSED = threading.Event()  # and none started after that


def run_export(words: list[str], cwd: Path, env: dict[str, str]) -> ProcessRun:
    """`python -m export WORDS` from cwd with env, its stdout and stderr kept in files there."""
    if CLOSED.is_set():
        raise RuntimeError("the test session has ended")
    cwd.mkdir(parents=True, exist_ok=True)
    with open(cwd / "stdout.txt", "wb") as out, open(cwd / "stderr.txt", "wb") as err:
        process = subprocess.Popen([sys.executable, "-m", "export", *words], cwd=cwd, stdout=out, stderr=err,
                                   stdin=subprocess.DEVNULL, env=env)
        RUNNING.add(process)
        try:
            code = process.wait(timeout=5400)
        finally:
            RUNNING.discard(process)
    return ProcessRun(code, cwd, (cwd / "stdout.txt").read_text(), (cwd / "stderr.txt").read_text())


class Farm:
    """Jobs by key: started by `submit` (queued, STREAMS at a time) or by `result` (at once, if not started)."""

    def __init__(self, streams: int = STREAMS):
        self._pool = ThreadPoolExecutor(streams, thread_name_prefix="export-run")
        self._guard = threading.Lock()
        self._futures: dict[Hashable, Future] = {}
        self.timings: dict[Hashable, Timing] = {}
        self._asked: set[Hashable] = set()

    def _timed(self, key: Hashable, label: str, job: Callable[[], object]) -> object:
        start = time.monotonic()
        try:
            return job()
        finally:
            self.timings[key] = Timing(label, time.monotonic() - start, 0.0)

    def submit(self, key: Hashable, label: str, job: Callable[[], object]) -> None:
        with self._guard:
            if key not in self._futures:
                self._futures[key] = self._pool.submit(self._timed, key, label, job)

    def result(self, key: Hashable, label: str, job: Callable[[], object]):
        with self._guard:
            future = self._futures.get(key)
            if future is None or future.cancel():  # not started: run it now, in this thread
                future = Future()
                future.set_running_or_notify_cancel()
                self._futures[key] = future
                inline = True
            else:
                inline = False
        start = time.monotonic()
        if inline:
            try:
                future.set_result(self._timed(key, label, job))
            except BaseException as error:  # kept for every later test that asks
                future.set_exception(error)
        try:
            return future.result()
        finally:
            timing = self.timings.get(key)
            if timing is not None and key not in self._asked and not inline:
                self.timings[key] = Timing(timing.label, timing.seconds, time.monotonic() - start)
            self._asked.add(key)

    def close(self) -> None:
        CLOSED.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in list(RUNNING):
            process.kill()

    def table(self) -> str:
        rows = sorted(self.timings.values(), key=lambda t: -t.seconds)
        width = max([len(t.label) for t in rows] + [10])
        lines = [f"{'export run':<{width}}  {'seconds':>8}  {'first wait':>10}"]
        lines += [f"{t.label:<{width}}  {t.seconds:8.0f}  {t.waited:10.0f}" for t in rows]
        return "\n".join(lines)
