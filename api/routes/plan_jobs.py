"""``/v1/plan-jobs``: submit a long solve, poll for its plan (see :mod:`api.jobs`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, HTTPException, Query, Request, Response

from api.deps import STAFF, CallerDep
from api.jobs import MAX_JOB_S, PlanJob, PlanJobs, check_problem
from api.routes.plans import EXAMPLE_PROBLEM
from api.schemas import PlanJobOut

router = APIRouter(prefix="/v1/plan-jobs", tags=["plans"])


def _out(job: PlanJob) -> PlanJobOut:
    return PlanJobOut(id=job.id, status=job.status,  # type: ignore[arg-type]
                      time_limit_s=job.time_limit_s, seed=job.seed, created=job.created,
                      started=job.started, finished=job.finished, plan=job.plan,
                      error=job.error)


def _jobs(request: Request) -> PlanJobs:
    jobs: PlanJobs = request.app.state.jobs
    return jobs


@router.post("", status_code=202, response_model=PlanJobOut, operation_id="create_plan_job",
             summary="Submit a problem JSON to solve off the request path; poll its plan",
             responses={202: {"description": "Queued; poll the `Location`",
                              "headers": {"Location": {"schema": {"type": "string"},
                                                       "description": "the job's URL"}}}})
def create_plan_job(
    request: Request, caller: CallerDep, response: Response,
    problem: Annotated[dict[str, Any], Body(examples=[EXAMPLE_PROBLEM])],
    time_limit_s: Annotated[float, Query(gt=0, le=MAX_JOB_S)] = 30.0,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> PlanJobOut:
    """Check the problem now (422 naming the field), queue it and answer 202 with the job
    and its ``Location``; a worker process solves it within ``time_limit_s`` (up to
    600 s). 503 when the queue is full. A retry with the same ``Idempotency-Key``
    returns the first job."""
    caller.require(*STAFF)
    check_problem(problem)
    try:
        job = _jobs(request).submit(caller.key.tenant, problem, time_limit_s, seed,
                                    idempotency_key=idempotency_key,
                                    fingerprint=caller.fingerprint(problem, time_limit_s, seed))
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    response.headers["Location"] = f"/v1/plan-jobs/{job.id}"
    return _out(job)


@router.get("/{job_id}", response_model=PlanJobOut, operation_id="get_plan_job",
            summary="A plan job: queued, running, done (with the plan JSON) or failed")
def get_plan_job(job_id: str, request: Request, caller: CallerDep) -> PlanJobOut:
    """Return the job (404 for another tenant's or an unknown one)."""
    caller.require(*STAFF)
    job = _jobs(request).get(caller.key.tenant, job_id)
    if job is None:
        raise HTTPException(status_code=404, detail=f"plan job {job_id!r} not found")
    return _out(job)
