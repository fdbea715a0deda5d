"""Re-optimization off the booking path: a worker improves a snapshot while bookings go on.

:class:`BackgroundReoptimizer` splits :func:`dispatch.reoptimize.reoptimize` in three:
in the engine's thread, :meth:`~BackgroundReoptimizer.start` takes a
:func:`~dispatch.reoptimize.snapshot` (a few milliseconds) and hands it to a worker;
the worker runs the pure :func:`~dispatch.reoptimize.improve` (problem build, solver,
re-insertion) on plain data; :meth:`~BackgroundReoptimizer.poll` (or
:meth:`~BackgroundReoptimizer.wait`), again in the engine's thread, merges the result
with :func:`~dispatch.reoptimize.finish`: bookings and cancellations made meanwhile are
kept, a vehicle event meanwhile or plans that no longer fit drop it, with the reason.

The worker is a separate process by default: the solver's Python and compiled code
would otherwise compete with the offers for the interpreter lock. The travel table is
sent to the worker once, when it starts (inherited for free with the ``fork`` start
method); each run then ships only the snapshot's plans and the parameters.

Example
-------
>>> bg = BackgroundReoptimizer(engine, ReoptParams(time_limit_s=5))   # doctest: +SKIP
>>> bg.start()            # non-blocking; False while a run is in flight
>>> ...                   # engine.book(...), engine.confirm(...), engine.advance(...)
>>> result = bg.poll()    # None while running, else the merged ReoptResult
>>> bg.close()
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from dispatch.errors import DispatchError
from dispatch.network import TravelTable
from dispatch.reoptimize import (
    Improvement,
    ReoptParams,
    ReoptResult,
    Snapshot,
    finish,
    improve,
    snapshot,
)

if TYPE_CHECKING:
    from dispatch.engine import Engine

logger = logging.getLogger(__name__)

#: Where the worker runs: ``"process"`` (default) or ``"thread"``.
MODES = ("process", "thread")

# The travel table of this worker process, set once by the pool's initializer.
_WORKER_TABLE: TravelTable | None = None


class BackgroundError(DispatchError, ValueError):
    """A bad option of :class:`BackgroundReoptimizer` (the message names it)."""


def _init_worker(table: TravelTable, niceness: int) -> None:
    global _WORKER_TABLE  # one table per worker process, set once
    _WORKER_TABLE = table
    if niceness > 0 and hasattr(os, "nice"):
        os.nice(niceness)  # offers in the engine's process come first on a busy CPU


def _improve_in_worker(snap: Snapshot, params: ReoptParams) -> Improvement:
    if _WORKER_TABLE is None:  # pragma: no cover - the initializer always ran
        msg = "worker started without a travel table"
        raise RuntimeError(msg)
    return improve(snap, _WORKER_TABLE, params)


@dataclass(slots=True)
class _Run:
    snap: Snapshot
    future: Future[Improvement]
    t0: float


class BackgroundReoptimizer:
    """Run re-optimizations of ``engine`` in a worker while it keeps answering bookings.

    Parameters
    ----------
    engine
        The live engine. Every method of this class must be called from the thread
        that drives the engine: only the worker's part runs elsewhere.
    params
        Re-optimization options (:class:`~dispatch.reoptimize.ReoptParams`).
    mode
        ``"process"`` (default: a separate worker process) or ``"thread"``.
    start_method
        Multiprocessing start method of the worker process: ``"fork"`` (instant; the
        worker inherits the loaded code and the table), ``"forkserver"`` or ``"spawn"``
        (a fresh interpreter: safe in a process that runs other threads, but it
        imports and loads the compiled kernels once, a few seconds). ``None`` takes
        ``"fork"`` where it exists, else ``"spawn"``.
    lock_ahead_s
        A run locks every stop a vehicle starts driving to within this many seconds of
        engine time after the snapshot, so the vehicles are where the result expects
        them when it is merged. ``None``: twice the time limit plus 10 s. The caller
        can give ``lock_until`` to :meth:`start` instead.
    niceness
        How much lower the worker process's CPU priority is (``os.nice``; 0 keeps it):
        on a busy machine the offers then get the CPU first.

    Notes
    -----
    Cost in the engine's thread: the snapshot at :meth:`start` and the merge at
    :meth:`poll` (rebasing, inserting bookings made meanwhile, the engine's promise
    check in ``adopt_plans``); both are reported in the result (``merge_s``). The
    worker uses one core for up to about twice ``time_limit_s`` (solver, then
    re-insertion).
    """

    def __init__(
        self,
        engine: Engine,
        params: ReoptParams | None = None,
        *,
        mode: str = "process",
        start_method: str | None = None,
        lock_ahead_s: int | None = None,
        niceness: int = 10,
    ) -> None:
        if mode not in MODES:
            msg = f"mode: must be one of {MODES}, got {mode!r}"
            raise BackgroundError(msg)
        methods = multiprocessing.get_all_start_methods()
        if start_method is not None and start_method not in methods:
            msg = f"start_method: must be one of {tuple(methods)}, got {start_method!r}"
            raise BackgroundError(msg)
        if lock_ahead_s is not None and lock_ahead_s < 0:
            msg = f"lock_ahead_s: must not be negative, got {lock_ahead_s}"
            raise BackgroundError(msg)
        self.engine = engine
        self.params = params or ReoptParams()
        self.mode = mode
        self.start_method = start_method or ("fork" if "fork" in methods else "spawn")
        self.lock_ahead_s = (math.ceil(2 * self.params.time_limit_s) + 10
                             if lock_ahead_s is None else lock_ahead_s)
        self.niceness = max(0, niceness)
        self.runs = 0
        self.adopted = 0
        self.last: ReoptResult | None = None
        self._pool: Executor | None = None
        self._run: _Run | None = None

    # ------------------------------------------------------------------ pool
    def _executor(self) -> Executor:
        if self._pool is None:
            if self.mode == "thread":
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reopt")
            else:
                ctx = multiprocessing.get_context(self.start_method)
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=ctx,
                                                 initializer=_init_worker,
                                                 initargs=(self.engine.table,
                                                           self.niceness))
        return self._pool

    def _submit(self, snap: Snapshot) -> Future[Improvement]:
        pool = self._executor()
        if self.mode == "thread":
            return pool.submit(improve, snap, self.engine.table, self.params)
        return pool.submit(_improve_in_worker, snap, self.params)

    # ------------------------------------------------------------------ calls
    @property
    def running(self) -> bool:
        """Whether a run was started and its result not merged yet."""
        return self._run is not None

    @property
    def ready(self) -> bool:
        """Whether the running run's result can be merged without waiting."""
        return self._run is not None and self._run.future.done()

    def start(self, *, lock_until: int | None = None) -> bool:
        """Snapshot the engine and start improving it in the worker; return at once.

        Parameters
        ----------
        lock_until
            Engine time up to which vehicles keep their planned stops (see
            :func:`~dispatch.reoptimize.snapshot`); default ``now + lock_ahead_s``.

        Returns
        -------
        bool
            ``False`` (and nothing started) while a run is still in flight.
        """
        if self._run is not None:
            return False
        t0 = time.perf_counter()
        until = self.engine.now + self.lock_ahead_s if lock_until is None else lock_until
        snap = snapshot(self.engine, lock_until=until)
        self._run = _Run(snap=snap, future=self._submit(snap), t0=t0)
        return True

    def poll(self) -> ReoptResult | None:
        """Merge the result if the worker is done; ``None`` while it runs (or idle)."""
        if self._run is None or not self._run.future.done():
            return None
        return self._merge()

    def wait(self, timeout: float | None = None) -> ReoptResult | None:
        """Wait up to ``timeout`` seconds (``None``: no limit) for the run, then merge it.

        Returns ``None`` when nothing is running or the run is not done in time.
        """
        if self._run is None:
            return None
        try:
            self._run.future.exception(timeout=timeout)
        except FutureTimeout:
            return None
        return self._merge()

    def _merge(self) -> ReoptResult:
        run, self._run = self._run, None
        assert run is not None
        try:
            imp = run.future.result()
        except Exception as exc:  # a failed worker must never take dispatch down
            logger.warning("background re-optimization failed: %r", exc)
            if isinstance(exc, BrokenProcessPool):
                self._shutdown(wait=False)
            res = ReoptResult(adopted=False, reason=f"worker failed: {exc!r}",
                              cost_before=0, cost_after=0, method="none",
                              runtime_s=time.perf_counter() - run.t0)
        else:
            res = finish(self.engine, run.snap, imp, self.params, t0=run.t0)
        self.runs += 1
        self.adopted += int(res.adopted)
        self.last = res
        logger.info("background re-optimization: %s (%s, %.2f s, merge %.1f ms)",
                    res.reason, res.method, res.runtime_s, res.merge_s * 1000)
        return res

    def close(self) -> None:
        """Drop any run in flight (unmerged) and stop the worker.

        Waits for a run in flight to end (at most about twice its time limit).
        """
        self._run = None
        self._shutdown(wait=True)

    def _shutdown(self, *, wait: bool) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> BackgroundReoptimizer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
