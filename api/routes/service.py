"""Health, boarding points, the service clock and the day's KPIs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import STAFF, CallerDep
from api.schemas import ClockIn, ClockOut, StopOut

router = APIRouter(tags=["service"])


@router.get("/healthz", operation_id="healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    """Return ok while the process runs."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz", summary="Region loaded and database reachable")
def readyz(request: Request) -> dict[str, Any]:
    """Return ready once every tenant's engine is recovered and the database answers."""
    try:
        revision = request.app.state.store.revision()
    except Exception as exc:  # any database failure means not ready
        raise HTTPException(status_code=503, detail=f"database: {exc}") from exc
    return {"status": "ready", "schema": revision,
            "tenants": sorted(request.app.state.services)}


@router.get("/v1/stops", response_model=list[StopOut], operation_id="list_stops",
            summary="The boarding points riders can be picked up at and dropped off at")
def list_stops(caller: CallerDep) -> list[StopOut]:
    """List the tenant's boarding points."""
    return [StopOut(id=p.id, name=p.name, kind=p.kind, lon=p.lon, lat=p.lat)
            for p in caller.service.setup.places if p.kind != "depot"]


@router.get("/v1/clock", response_model=ClockOut, operation_id="get_clock",
            summary="The service clock")
def get_clock(caller: CallerDep) -> ClockOut:
    """Return the engine's clock."""
    svc = caller.service
    return ClockOut(now=svc.to_time(svc.engine.now), mode=svc.clock)


@router.post("/v1/clock", response_model=ClockOut, operation_id="set_clock",
             summary="Advance the service clock (manual clock only): vehicles drive on")
def set_clock(body: ClockIn, caller: CallerDep) -> ClockOut:
    """Advance the engine to ``to``; 409 on the wall clock or to an earlier time."""
    caller.require(*STAFF)
    svc = caller.service
    if svc.clock != "manual":
        raise HTTPException(status_code=409, detail="the service runs on the wall clock")
    t = svc.to_seconds(body.to)
    svc.run(lambda eng: eng.advance(t))
    return ClockOut(now=svc.to_time(svc.engine.now), mode=svc.clock)


@router.get("/v1/kpis", operation_id="get_kpis", summary="The day's KPIs so far")
def get_kpis(caller: CallerDep) -> dict[str, Any]:
    """Return counts per status, promises kept and vehicle-km so far."""
    caller.require(*STAFF)
    svc = caller.service
    with svc.lock:
        recs = svc.engine.records()
        eng = svc.engine
        by: dict[str, int] = {}
        for r in recs:
            by[str(r.status)] = by.get(str(r.status), 0) + 1
        kept = [r.promise_kept for r in recs if r.promise_kept is not None]
        bg = svc.reopt
        last = svc.reopt_last
        return {"now": svc.to_time(eng.now).isoformat(), "requests": len(recs),
                "by_status": by,
                "reoptimizations": 0 if bg is None else bg.runs,
                "reoptimizations_adopted": 0 if bg is None else bg.adopted,
                "last_reoptimization": None if last is None else {
                    "adopted": last.adopted, "reason": last.reason, "method": last.method,
                    "cost_before": last.cost_before, "cost_after": last.cost_after},
                "promises_kept_share": (sum(kept) / len(kept)) if kept else None,
                "vehicle_km": round(sum(eng.vehicle_km(k) for k in range(eng.n_vehicles)), 3)}


def _event_json(svc: Any, n: int, e: Any) -> str:
    data = {"seq": n, "time": svc.to_time(e.time_s).isoformat(), "kind": str(e.kind),
            "request_id": e.request_id,
            "vehicle": None if e.vehicle is None else svc.setup.fleet[e.vehicle].id,
            "status": None if e.status is None else str(e.status), "cause": e.cause,
            "value_s": e.value_s}
    return f"id: {n}\nevent: {e.kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.get("/v1/events", operation_id="stream_events",
            summary="Live updates: the engine's events as Server-Sent Events",
            response_class=StreamingResponse)
async def stream_events(request: Request, caller: CallerDep,
                        after: Annotated[int, Query(ge=0)] = 0,
                        follow: Annotated[bool, Query()] = True) -> StreamingResponse:
    """Send every event after number ``after`` (``Last-Event-ID`` resumes), then, with
    ``follow``, new ones as they happen (the console's live feed)."""
    caller.require(*STAFF)
    svc = caller.service
    last = request.headers.get("last-event-id", "")
    start = int(last) if last.isdigit() else after

    async def feed() -> AsyncIterator[str]:
        sent = start
        while True:
            events = svc.engine.events
            for n in range(sent, len(events)):
                yield _event_json(svc, n + 1, events[n])
            sent = max(sent, len(events))
            if not follow or await request.is_disconnected():
                return
            await asyncio.sleep(0.5)

    return StreamingResponse(feed(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})
