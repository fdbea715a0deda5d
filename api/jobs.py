"""Plan jobs: long solves off the request path, in worker processes, to poll.

``POST /v1/plan-jobs`` checks the problem JSON at once (a 422 names the field), queues
a :class:`PlanJob` and answers 202; a dispatcher thread runs at most ``workers`` jobs
at a time, each in a fresh worker process (``spawn``) that loads the service's region,
builds the car matrices on its roads when the problem has none, solves within the
job's time limit and returns the plan JSON (checked by the independent checker, as
``hakobu solve``). A job over its deadline (time limit plus :data:`BUILD_GRACE_S`) is
killed and failed. Jobs live in the service's memory: a restart forgets them (the
problem can be submitted again).
"""

from __future__ import annotations

import logging
import multiprocessing
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from api.settings import Settings
from dispatch.errors import DispatchError

logger = logging.getLogger(__name__)

#: Longest time limit a plan job accepts, seconds.
MAX_JOB_S = 600.0
#: Seconds a worker may take beyond the solve's time limit (region, matrices, checks).
BUILD_GRACE_S = 120.0
#: Finished jobs kept per service (the oldest are forgotten first).
KEEP_FINISHED = 200


class JobQueueFullError(DispatchError):
    """The queue of plan jobs is full; the message says how many are waiting."""


@dataclass(slots=True, kw_only=True)
class PlanJob:
    """One submitted problem and what became of it."""

    id: str
    tenant: str
    problem: dict[str, Any]
    time_limit_s: float
    seed: int
    status: str = "queued"  # queued | running | done | failed
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: datetime | None = None
    finished: datetime | None = None
    plan: dict[str, Any] | None = None
    error: str | None = None
    fingerprint: str = ""


def check_problem(problem: dict[str, Any]) -> None:
    """Check the problem JSON's structure now (matrices stand-ins: zeros).

    Raises
    ------
    routing.errors.ProblemError
        For a missing, mistyped or inconsistent field (the message names it).
    """
    from routing.io import problem_from_dict

    def stand_in(points: np.ndarray, profiles: tuple[str, ...]
                 ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        n = len(points)
        zero = np.zeros((n, n), dtype=np.int64)
        return dict.fromkeys(profiles, zero), dict.fromkeys(profiles, zero)

    problem_from_dict(problem, build_matrices=stand_in)


def solve_problem(problem: dict[str, Any], time_limit_s: float, seed: int,
                  region: Any) -> dict[str, Any]:
    """Build and solve ``problem`` (car matrices on ``region``'s roads when it has none)
    and return the plan JSON."""
    from routing.errors import ProblemError
    from routing.io import plan_to_dict, problem_from_dict
    from routing.model import Profile
    from routing.solve import SolveParams, solve

    def build(points: np.ndarray, profiles: tuple[str, ...]
              ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        from maps.matrix import travel_matrices

        if region is None or any(p != Profile.CAR for p in profiles):
            raise ProblemError("durations", "give durations and distances inline")
        m = travel_matrices(region.road, points)
        return {Profile.CAR: m.duration_s}, {Profile.CAR: m.distance_m}

    built = problem_from_dict(problem, build_matrices=build)
    solution = solve(built, SolveParams(time_limit_s=time_limit_s, seed=seed))
    return plan_to_dict(built, solution)


def _worker(conn: Any, settings: Settings | None, problem: dict[str, Any],
            time_limit_s: float, seed: int) -> None:
    """Worker process: load the region, solve, send ("done", plan) or ("failed", why)."""
    try:
        region = None if settings is None else settings.load_region()
        plan = solve_problem(problem, time_limit_s, seed, region)
        conn.send(("done", plan))
    except Exception as exc:  # every failure is the job's answer, never a crash
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class PlanJobs:
    """The plan jobs of one service: a bounded queue and at most ``workers`` running.

    Parameters
    ----------
    region
        The service's settings, from which a worker loads its region
        (:meth:`~api.settings.Settings.load_region`); ``None``: no region (problems
        must carry their matrices).
    workers
        Jobs solved at the same time (each in its own process, one core each).
    max_queued
        Jobs waiting beyond that are refused (:class:`JobQueueFullError`, a 503).
    """

    def __init__(self, region: Settings | None, *, workers: int = 1, max_queued: int = 16) -> None:
        self.region, self.workers, self.max_queued = region, workers, max_queued
        self.jobs: dict[str, PlanJob] = {}
        self._by_key: dict[tuple[str, str], str] = {}
        self._waiting: deque[str] = deque()
        self._cv = threading.Condition()
        self._running: dict[str, multiprocessing.process.BaseProcess] = {}
        self._closing = False
        self._ctx = multiprocessing.get_context("spawn")
        self._threads = [threading.Thread(target=self._loop, name=f"plan-jobs-{k}",
                                          daemon=True) for k in range(workers)]
        for t in self._threads:
            t.start()

    def submit(self, tenant: str, problem: dict[str, Any], time_limit_s: float, seed: int,
               *, idempotency_key: str | None = None, fingerprint: str = "") -> PlanJob:
        """Queue a job (its problem checked by the caller); return it.

        A second submission with the same ``idempotency_key`` returns the first job.

        Raises
        ------
        JobQueueFullError
            When ``max_queued`` jobs are waiting already.
        ValueError
            When the idempotency key was used with another problem.
        """
        with self._cv:
            if idempotency_key is not None:
                seen = self._by_key.get((tenant, idempotency_key))
                if seen is not None and seen in self.jobs:
                    job = self.jobs[seen]
                    if job.fingerprint != fingerprint:
                        msg = "Idempotency-Key: used before with a different request"
                        raise ValueError(msg)
                    return job
            if len(self._waiting) >= self.max_queued:
                msg = f"{len(self._waiting)} plan jobs are waiting; try again later"
                raise JobQueueFullError(msg)
            job = PlanJob(id=f"job-{secrets.token_hex(6)}", tenant=tenant, problem=problem,
                          time_limit_s=time_limit_s, seed=seed, fingerprint=fingerprint)
            self.jobs[job.id] = job
            if idempotency_key is not None:
                self._by_key[(tenant, idempotency_key)] = job.id
            self._waiting.append(job.id)
            self._forget_old()
            self._cv.notify_all()
            return job

    def get(self, tenant: str, job_id: str) -> PlanJob | None:
        """Return ``tenant``'s job ``job_id`` (``None`` for another tenant's or none)."""
        job = self.jobs.get(job_id)
        return job if job is not None and job.tenant == tenant else None

    def _forget_old(self) -> None:
        done = [j for j in self.jobs.values() if j.status in ("done", "failed")]
        for j in done[: max(0, len(done) - KEEP_FINISHED)]:
            del self.jobs[j.id]

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._waiting and not self._closing:
                    self._cv.wait()
                if self._closing:
                    return
                job = self.jobs[self._waiting.popleft()]
                job.status, job.started = "running", datetime.now(UTC)
            status, value = self._run(job)
            with self._cv:
                job.status, job.finished = status, datetime.now(UTC)
                if status == "done":
                    job.plan = value
                else:
                    job.error = value
                job.problem = {}  # the plan is what is kept
                logger.info("plan job %s of %s %s", job.id, job.tenant, status)

    def _run(self, job: PlanJob) -> tuple[str, Any]:
        parent, child = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=_worker, name=f"plan-job-{job.id}", daemon=True,
                                 args=(child, self.region, job.problem, job.time_limit_s,
                                       job.seed))
        proc.start()
        child.close()
        with self._cv:
            self._running[job.id] = proc
        deadline = time.monotonic() + job.time_limit_s + BUILD_GRACE_S
        try:
            while True:
                if self._closing:
                    return "failed", "the service shut down before the job finished"
                if parent.poll(0.2):
                    try:
                        status, value = parent.recv()
                    except EOFError:
                        return "failed", "the worker process ended without an answer"
                    return str(status), value
                if not proc.is_alive():
                    return "failed", f"the worker process ended with {proc.exitcode}"
                if time.monotonic() > deadline:
                    return "failed", (f"no plan within {job.time_limit_s + BUILD_GRACE_S:g} s"
                                      " (time limit plus build time)")
        finally:
            if proc.is_alive():
                proc.kill()
            proc.join(5)
            parent.close()
            with self._cv:
                self._running.pop(job.id, None)

    def close(self) -> None:
        """Stop: queued jobs are failed, running workers killed."""
        with self._cv:
            self._closing = True
            for jid in self._waiting:
                job = self.jobs[jid]
                job.status, job.error = "failed", "the service shut down before the job ran"
            self._waiting.clear()
            procs = list(self._running.values())
            self._cv.notify_all()
        for p in procs:
            if p.is_alive():
                p.kill()
        for t in self._threads:
            t.join(10)
