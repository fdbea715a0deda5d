"""``/v1/vehicles``: the fleet, a driver's manifest and vehicle events."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from api.deps import STAFF, Caller, CallerDep, Role
from api.schemas import ManifestStop, VehicleEventIn, VehicleOut
from dispatch.engine import Engine, RideRequest

router = APIRouter(prefix="/v1/vehicles", tags=["vehicles"])


def _vehicle(caller: Caller, index: int) -> None:
    """404 for an unknown vehicle, or one that is not the driver's own."""
    n = caller.service.engine.n_vehicles
    if not 0 <= index < n or (caller.role is Role.DRIVER and caller.key.vehicle != index):
        raise HTTPException(status_code=404, detail=f"vehicle {index} not found")


@router.get("", response_model=list[VehicleOut], operation_id="list_vehicles",
            summary="The fleet and its state")
def list_vehicles(caller: CallerDep) -> list[VehicleOut]:
    """List the vehicles (staff only)."""
    caller.require(*STAFF)
    eng = caller.service.engine
    with caller.service.lock:
        return [VehicleOut(index=k, id=eng.vehicle_spec(k).id, active=eng.is_active(k),
                           capacity=list(eng.vehicle_spec(k).capacity),
                           next_stops=len(eng.plan(k)), km=round(eng.vehicle_km(k), 3))
                for k in range(eng.n_vehicles)]


@router.get("/{index}/manifest", response_model=list[ManifestStop],
            operation_id="get_manifest", summary="The next stops a driver serves")
def get_manifest(index: int, caller: CallerDep) -> list[ManifestStop]:
    """Return the vehicle's next stops; riders' names only for its own driver (and staff)."""
    caller.require(Role.ADMIN, Role.DISPATCHER, Role.DRIVER)
    svc = caller.service
    with svc.lock:
        _vehicle(caller, index)
        out = []
        for s in svc.engine.plan(index):
            place = svc.setup.places[s.location]
            rider = None
            if s.request_id is not None:
                req = svc.engine.record(s.request_id).request
                rider = req.rider if isinstance(req, RideRequest) else req.customer
            out.append(ManifestStop(request_id=s.request_id, kind=str(s.kind),
                                    stop_id=place.id, stop_name=place.name,
                                    arrival=svc.to_time(s.arrival_s),
                                    departure=svc.to_time(s.departure_s), rider=rider))
        return out


@router.post("/{index}/events", response_model=list[ManifestStop],
             operation_id="post_vehicle_event",
             summary="Report a vehicle event: position, arrived, delay, breakdown")
def post_vehicle_event(index: int, body: VehicleEventIn, caller: CallerDep
                       ) -> list[ManifestStop]:
    """Apply the event and return the vehicle's new manifest."""
    caller.require(Role.ADMIN, Role.DISPATCHER, Role.DRIVER)
    svc = caller.service
    with svc.lock:
        _vehicle(caller, index)
        at = svc.engine.now if body.at is None else svc.to_seconds(body.at)

        def call(eng: Engine) -> None:
            if body.kind == "delay":
                if body.seconds is None:
                    raise HTTPException(status_code=422, detail="seconds: needed for a delay")
                eng.delay(index, body.seconds, body.cause or "traffic")
            elif body.kind == "breakdown":
                eng.breakdown(index, body.cause or "breakdown")
            elif body.kind == "arrived":
                eng.arrived(index, at)
            else:
                if body.stop_id is None or body.stop_id not in svc.by_id:
                    raise HTTPException(status_code=422,
                                        detail="stop_id: a known boarding point is needed")
                eng.position(index, svc.by_id[body.stop_id].index, at)

        svc.run(call)
    return get_manifest(index, caller)
