"""``/v1/ride-requests``: book (offer or rejection), confirm, decline, cancel, read, list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Response

from api.deps import STAFF, Caller, CallerDep, Role
from api.schemas import CancelIn, OfferOut, RideRequestIn, RideRequestOut, RideRequestPage, Window
from api.service import TenantService
from dispatch.engine import Engine, Offer, RequestRecord, RequestStatus, RideRequest
from routing.insertion import OPEN
from routing.model import TimeWindow

router = APIRouter(prefix="/v1/ride-requests", tags=["ride requests"])
_CLIENTS = (Role.ADMIN, Role.DISPATCHER, Role.BOOKING_CLIENT)


def _window(svc: TenantService, w: TimeWindow) -> Window:
    return Window(earliest=svc.to_time(w.earliest), latest=svc.to_time(w.latest))


def _offer(svc: TenantService, o: Offer) -> OfferOut:
    places = svc.setup.places
    return OfferOut(
        vehicle=o.drone if o.drone is not None else svc.setup.fleet[o.vehicle].id,
        pickup_stop=places[o.pickup].id,
        dropoff_stop=places[o.dropoff].id, walk_s=o.walk_s,
        pickup_window=_window(svc, o.pickup_window),
        latest_arrival=None if o.latest_arrival >= OPEN else svc.to_time(o.latest_arrival),
        max_ride_s=o.max_ride_s, planned_pickup=svc.to_time(o.planned_pickup_s),
        planned_dropoff=svc.to_time(o.planned_dropoff_s), expires=svc.to_time(o.expires_s))


def ride_out(svc: TenantService, rec: RequestRecord,
             rejection: tuple[str, str, tuple[TimeWindow, ...]] | None = None) -> RideRequestOut:
    """Return the API view of a request record."""
    req = rec.request
    rider = req.rider if isinstance(req, RideRequest) else req.customer
    out = RideRequestOut(id=req.id, rider=rider, status=str(rec.status),
                         offer=None if rec.offer is None else _offer(svc, rec.offer),
                         picked_up=None if rec.picked_up_s is None
                         else svc.to_time(rec.picked_up_s),
                         dropped_off=None if rec.dropped_off_s is None
                         else svc.to_time(rec.dropped_off_s),
                         promise_broken=list(rec.broken))
    if rejection is not None:
        out.rejection_reason, out.rejection_detail = rejection[0], rejection[1]
        out.alternatives = [_window(svc, w) for w in rejection[2]]
    elif rec.status is RequestStatus.REJECTED:
        got = svc.rejection(req.id)
        if got is not None:
            out.rejection_reason, out.rejection_detail = got
    return out


def _to_request(svc: TenantService, body: RideRequestIn) -> RideRequest:
    pw = None
    if body.pickup_after is not None and body.pickup_before is not None:
        pw = TimeWindow(earliest=svc.to_seconds(body.pickup_after),
                        latest=svc.to_seconds(body.pickup_before))
    return RideRequest(
        id=body.id, rider=body.rider,
        origin=svc.stop_options(stop_id=body.origin.stop_id, lon=body.origin.lon,
                                lat=body.origin.lat, field="origin"),
        destination=svc.stop_options(stop_id=body.destination.stop_id,
                                     lon=body.destination.lon, lat=body.destination.lat,
                                     field="destination"),
        pickup_window=pw,
        arrive_by=None if body.arrive_by is None else svc.to_seconds(body.arrive_by),
        seats=body.seats, wheelchairs=body.wheelchairs)


def _visible(caller: Caller, request_id: str) -> None:
    """404 unless the request exists and the caller may see it."""
    svc = caller.service
    try:
        svc.engine.status(request_id)
    except KeyError:
        raise HTTPException(status_code=404, detail=f"ride request {request_id!r} not found"
                            ) from None
    if caller.role in STAFF:
        return
    if caller.role is Role.BOOKING_CLIENT and svc.owner(request_id) == caller.key.id:
        return
    raise HTTPException(status_code=404, detail=f"ride request {request_id!r} not found")


def _fingerprint(caller: Caller, body: RideRequestIn) -> str:
    return caller.fingerprint(body.model_dump(mode="json"))


@router.post("", status_code=201, response_model=RideRequestOut, operation_id="create_ride",
             summary="Book a ride: the answer is an offer (status offered) or a rejection")
def create_ride(body: RideRequestIn, caller: CallerDep, response: Response,
                idempotency_key: Annotated[str | None, Header(max_length=200)] = None
                ) -> RideRequestOut | dict[str, Any]:
    """Book a ride and answer at once with the offer, or the rejection with its reason
    and alternative times. A retry with the same ``Idempotency-Key`` returns the first
    answer and books nothing."""
    caller.require(*_CLIENTS)
    svc = caller.service
    if svc.clock == "wall":
        svc.advance_to_wall_clock()
    fp = "" if idempotency_key is None else _fingerprint(caller, body)
    with svc.lock:
        seen = caller.answered(idempotency_key, fp, response)
        if seen is not None:
            return seen
        answer = svc.run(lambda eng: eng.book(_to_request(svc, body)))
        svc.set_owner(body.id, caller.key.id)
        rec = svc.engine.record(body.id)
        rej = None if isinstance(answer, Offer) else (
            str(answer.reason), answer.detail, answer.alternatives)
        out = ride_out(svc, rec, rej)
        if idempotency_key is not None:
            svc.remember(idempotency_key, fp, 201,
                         out.model_dump(mode="json"))
        return out


@router.get("", response_model=RideRequestPage, operation_id="list_rides",
            summary="List ride requests, newest last, with filters and paging")
def list_rides(caller: CallerDep,
               status: Annotated[RequestStatus | None, Query()] = None,
               rider: Annotated[str | None, Query(max_length=100)] = None,
               offset: Annotated[int, Query(ge=0)] = 0,
               limit: Annotated[int, Query(ge=1, le=500)] = 50) -> RideRequestPage:
    """List the ride requests the caller may see."""
    caller.require(*_CLIENTS)
    svc = caller.service
    with svc.lock:
        recs = caller.records(RideRequest, status)
        if rider is not None:
            recs = [r for r in recs if isinstance(r.request, RideRequest)
                    and r.request.rider == rider]
        page = [ride_out(svc, r) for r in recs[offset: offset + limit]]
    return RideRequestPage(items=page, total=len(recs), offset=offset, limit=limit)


@router.get("/{request_id}", response_model=RideRequestOut, operation_id="get_ride",
            summary="Read one ride request")
def get_ride(request_id: str, caller: CallerDep) -> RideRequestOut:
    """Return one ride request (404 when it is not the caller's to see)."""
    caller.require(*_CLIENTS)
    with caller.service.lock:
        _visible(caller, request_id)
        return ride_out(caller.service, caller.service.engine.record(request_id))


def _act(caller: Caller, request_id: str, act: str, cause: str = "rider") -> RideRequestOut:
    caller.require(*_CLIENTS)
    svc = caller.service
    if svc.clock == "wall":
        svc.advance_to_wall_clock()
    with svc.lock:
        _visible(caller, request_id)

        def call(eng: Engine) -> None:
            if act == "cancel":
                eng.cancel(request_id, cause)
            else:
                getattr(eng, act)(request_id)

        svc.run(call)
        return ride_out(svc, svc.engine.record(request_id))


@router.post("/{request_id}/confirm", response_model=RideRequestOut,
             operation_id="confirm_ride", summary="Confirm an offer: the promise is kept")
def confirm_ride(request_id: str, caller: CallerDep) -> RideRequestOut:
    """Confirm the offer; 409 when it has expired or no longer fits."""
    return _act(caller, request_id, "confirm")


@router.post("/{request_id}/decline", response_model=RideRequestOut,
             operation_id="decline_ride", summary="Decline an offer")
def decline_ride(request_id: str, caller: CallerDep) -> RideRequestOut:
    """Decline the offer."""
    return _act(caller, request_id, "decline")


@router.post("/{request_id}/cancel", response_model=RideRequestOut,
             operation_id="cancel_ride", summary="Cancel a ride before pickup")
def cancel_ride(request_id: str, caller: CallerDep, body: CancelIn | None = None
                ) -> RideRequestOut:
    """Cancel the ride (409 after pickup)."""
    return _act(caller, request_id, "cancel", (body or CancelIn()).cause)
