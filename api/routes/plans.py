"""``/v1/plans``: solve a day's problem JSON and return the plan JSON (synchronously)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from api.deps import STAFF, CallerDep

router = APIRouter(prefix="/v1/plans", tags=["plans"])

#: Longest synchronous solve the API accepts.
MAX_SYNC_S = 60.0
#: A clinic ride on the built-in region's roads (matrices built by the service).
EXAMPLE_PROBLEM: dict[str, Any] = {
    "name": "one clinic ride in Kumamoto",
    "dimensions": ["seats", "wheelchairs", "parcels"],
    "locations": [{"id": "depot-kengun", "lon": 130.75748, "lat": 32.779459},
                  {"id": "home-ezu", "lon": 130.73306, "lat": 32.77914},
                  {"id": "city-hospital", "lon": 130.76349, "lat": 32.78705}],
    "vehicle_types": [{"id": "minibus", "capacity": [8, 1, 0], "profile": "car"}],
    "vehicles": [{"id": "bus-1", "type": "minibus", "start": "depot-kengun",
                  "end": "depot-kengun", "shift": {"earliest": 28800, "latest": 61200}}],
    "requests": [{"id": "ride-tanaka", "pickup": "home-ezu", "dropoff": "city-hospital",
                  "load": {"seats": 1}, "dropoff_window": {"earliest": 32400,
                                                           "latest": 34200}}],
}


@router.post("", operation_id="create_plan",
             summary="Solve a problem JSON (the `hakobu solve` format) and return the plan JSON")
def create_plan(
    request: Request, caller: CallerDep,
    problem: Annotated[dict[str, Any], Body(examples=[EXAMPLE_PROBLEM])],
    time_limit_s: Annotated[float, Query(gt=0, le=MAX_SYNC_S)] = 5.0,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
) -> dict[str, Any]:
    """Build the problem (car matrices on the service's roads when it has none), solve
    it within ``time_limit_s`` and return the plan: every route checked by the
    independent checker (``summary.feasible``)."""
    from api.jobs import solve_problem

    caller.require(*STAFF)
    return solve_problem(problem, time_limit_s, seed, request.app.state.region)
