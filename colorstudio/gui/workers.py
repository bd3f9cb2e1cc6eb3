"""Background work for the window: the engine's Qt-free jobs run in a QThreadPool and report by signals.

A :class:`WorkLane` runs one job at a time. A newer request either supersedes the running one (it is
cancelled and its result dropped: "Colorize" pressed again) or waits as the single pending request
(coalescing: while the hue dial is dragged only the latest angle is computed next, never a queue of
stale ones). Results arrive in GUI-thread slots, tagged with the generation that produced them.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from colorstudio.errors import CancelledError, ColorStudioError

__all__ = ["WorkLane", "Work", "describe_exception"]

# work(progress, cancel, partial) -> result; all three callbacks are safe to call from the worker thread.
Work = Callable[[Callable[[float, str], None], Callable[[], bool], Callable[[Any], None]], Any]


def describe_exception(exc: BaseException) -> str:
    """A message for the user: ColorStudioError text as is, known failures explained, never a traceback."""
    if isinstance(exc, ColorStudioError):
        return str(exc)
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
        return "Out of memory. Close other programs, use a smaller image, or choose the CPU device."
    return f"Unexpected error ({type(exc).__name__}): {exc}"


class _RunnableSignals(QObject):
    progress = Signal(int, float, str)
    partial = Signal(int, object)
    done = Signal(int, object, float)
    failed = Signal(int, str)
    cancelled = Signal(int)
    finished = Signal(int)


class _Runnable(QRunnable):
    def __init__(self, work: Work, generation: int, cancel_event: threading.Event, signals: _RunnableSignals) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._work = work
        self._generation = generation
        self._cancel = cancel_event
        self._signals = signals

    def run(self) -> None:  # worker thread: touches no widget, only emits
        gen, signals = self._generation, self._signals
        started = time.perf_counter()
        try:
            result = self._work(
                lambda fraction, message: _emit(signals.progress, gen, float(fraction), str(message)),
                self._cancel.is_set,
                lambda item: _emit(signals.partial, gen, item),
            )
        except CancelledError:
            _emit(signals.cancelled, gen)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a message, never a crash
            if not isinstance(exc, ColorStudioError):
                traceback.print_exc()
            _emit(signals.failed, gen, describe_exception(exc))
        else:
            _emit(signals.done, gen, result, time.perf_counter() - started)
        finally:
            _emit(signals.finished, gen)


def _emit(signal, *args) -> None:
    """Emit from the worker; if the window (and its lane) is already gone there is no one to tell."""
    try:
        signal.emit(*args)
    except RuntimeError:
        pass


class WorkLane(QObject):
    """One lane of background work (colorize, preview, export, open...).

    Signals carry the generation of the request; ``done``/``partial`` of a superseded request are not
    emitted at all. ``busy_changed`` tells widgets to show/hide progress and Cancel.
    """

    progress = Signal(float, str)
    partial = Signal(int, object)
    done = Signal(int, object, float)  # generation, result, seconds
    failed = Signal(int, str)
    cancelled = Signal(int)
    busy_changed = Signal(bool)

    def __init__(self, name: str, pool: QThreadPool | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._pool = pool or QThreadPool.globalInstance()
        self._generation = 0
        self._running: tuple[int, threading.Event] | None = None
        self._pending: tuple[int, Work] | None = None
        self._superseded: set[int] = set()
        self._signals = _RunnableSignals()  # lives in the GUI thread: queued connections deliver here
        self._signals.progress.connect(self._on_progress)
        self._signals.partial.connect(self._on_partial)
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        self._signals.cancelled.connect(self._on_cancelled)
        self._signals.finished.connect(self._on_finished)

    @property
    def busy(self) -> bool:
        return self._running is not None or self._pending is not None

    @property
    def generation(self) -> int:
        return self._generation

    def submit(self, work: Work, *, supersede: bool = False) -> int:
        """Queue ``work``; with ``supersede`` the running job is cancelled and its result dropped."""
        self._generation += 1
        generation = self._generation
        self._pending = (generation, work)  # replaces an older pending request: it never runs
        if self._running is not None:
            if supersede:
                self._superseded.add(self._running[0])
                self._running[1].set()
        else:
            self._start_pending()
        return generation

    def cancel(self) -> None:
        """Cancel the running job and forget the pending one."""
        self._pending = None
        if self._running is not None:
            self._running[1].set()
        elif not self.busy:
            self.busy_changed.emit(False)

    def _start_pending(self) -> None:
        assert self._pending is not None  # called only with a job pending
        generation, work = self._pending
        self._pending = None
        event = threading.Event()
        was_busy = self._running is not None
        self._running = (generation, event)
        if not was_busy:
            self.busy_changed.emit(True)
        self._pool.start(_Runnable(work, generation, event, self._signals))

    def _current(self, generation: int) -> bool:
        return generation not in self._superseded

    def _on_progress(self, generation: int, fraction: float, message: str) -> None:
        if self._current(generation):
            self.progress.emit(fraction, message)

    def _on_partial(self, generation: int, item: object) -> None:
        if self._current(generation):
            self.partial.emit(generation, item)

    def _on_done(self, generation: int, result: object, seconds: float) -> None:
        if self._current(generation):
            self.done.emit(generation, result, seconds)

    def _on_failed(self, generation: int, message: str) -> None:
        if self._current(generation):
            self.failed.emit(generation, message)

    def _on_cancelled(self, generation: int) -> None:
        if self._current(generation):
            self.cancelled.emit(generation)

    def _on_finished(self, generation: int) -> None:
        self._superseded.discard(generation)
        if self._running is not None and self._running[0] == generation:
            self._running = None
        if self._pending is not None:
            self._start_pending()
        elif self._running is None:
            self.busy_changed.emit(False)

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Process events until idle (tests and shutdown); False on timeout."""
        from PySide6.QtCore import QCoreApplication

        deadline = time.monotonic() + timeout_s
        while self.busy and time.monotonic() < deadline:
            QCoreApplication.processEvents()
            time.sleep(0.005)
        return not self.busy
