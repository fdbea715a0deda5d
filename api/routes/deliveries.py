"""``/v1/deliveries``: a shop's delivery booked by van, drone or either; read; list.

A delivery goes from a shop (a hospital or other place of the service, by ``stop_id`` or
the nearest place to a lon/lat) to a delivery point: the boarding point given, or the
nearest one to the customer's lon/lat (the service's travel table holds its boarding
points and hospitals, so a parcel is left at the boarding point for the customer to
collect). A delivery that fits is confirmed at once (the shop takes any window inside
the one it asked for); one that does not is rejected with the reason.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Response

from api.deps import STAFF, Caller, CallerDep, Role
from api.schemas import DeliveryIn, DeliveryOut, DeliveryPage, Window
from api.service import TenantService
from dispatch.engine import DeliveryOrder, Engine, Offer, RequestRecord, RequestStatus
from routing.model import TimeWindow

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])
#: Who books and reads deliveries: the planners' clients and the dispatch staff.
_CLIENTS = (Role.ADMIN, Role.DISPATCHER, Role.BOOKING_CLIENT)


def _place(svc: TenantService, stop_id: str | None, lon: float | None, lat: float | None,
           field: str) -> int:
    return svc.stop_options(stop_id=stop_id, lon=lon, lat=lat, field=field, limit=1)[0].location


def delivery_out(svc: TenantService, rec: RequestRecord,
                 rejection: tuple[str, str] | None = None) -> DeliveryOut:
    """Return the API view of a delivery's record."""
    req = rec.request
    assert isinstance(req, DeliveryOrder)
    places = svc.setup.places
    o = rec.offer
    carrier = None
    if o is not None:
        carrier = o.drone if o.drone is not None else svc.setup.fleet[o.vehicle].id
    out = DeliveryOut(
        id=req.id, customer=req.customer, mode=req.mode, status=str(rec.status),
        carrier=carrier, shop=places[req.shop].id, delivery_point=places[req.home].id,
        delivery_window=None if o is None or o.delivery_window is None else Window(
            earliest=svc.to_time(o.delivery_window.earliest),
            latest=svc.to_time(o.delivery_window.latest)),
        planned_delivery=None if o is None else svc.to_time(o.planned_dropoff_s),
        delivered=None if rec.dropped_off_s is None else svc.to_time(rec.dropped_off_s),
        promise_broken=list(rec.broken))
    if rejection is not None:
        out.rejection_reason, out.rejection_detail = rejection
    elif rec.status is RequestStatus.REJECTED:
        got = svc.rejection(req.id)
        if got is not None:
            out.rejection_reason, out.rejection_detail = got
    return out


def _to_order(svc: TenantService, body: DeliveryIn) -> DeliveryOrder:
    return DeliveryOrder(
        id=body.id, customer=body.customer,
        shop=_place(svc, body.shop.stop_id, body.shop.lon, body.shop.lat, "shop"),
        home=_place(svc, body.to.stop_id, body.to.lon, body.to.lat, "to"),
        ready_s=svc.to_seconds(body.ready),
        window=TimeWindow(earliest=svc.to_seconds(body.deliver_after),
                          latest=svc.to_seconds(body.deliver_before)),
        parcels=body.parcels, weight_kg=body.weight_kg, mode=body.mode)


def _visible(caller: Caller, delivery_id: str) -> RequestRecord:
    svc = caller.service
    try:
        rec = svc.engine.record(delivery_id)
    except KeyError:
        rec = None
    ok = rec is not None and isinstance(rec.request, DeliveryOrder) and (
        caller.role in STAFF or (caller.role is Role.BOOKING_CLIENT
                                 and svc.owner(delivery_id) == caller.key.id))
    if not ok:
        raise HTTPException(status_code=404, detail=f"delivery {delivery_id!r} not found")
    assert rec is not None
    return rec


@router.post("", status_code=201, response_model=DeliveryOut, operation_id="create_delivery",
             summary="Book a delivery: confirmed at once when it fits, else rejected")
def create_delivery(body: DeliveryIn, caller: CallerDep, response: Response,
                    idempotency_key: Annotated[str | None, Header(max_length=200)] = None
                    ) -> DeliveryOut | dict[str, Any]:
    """Book a delivery by van, drone (``mode``) or either (``auto``: a drone when one fits).
    A retry with the same ``Idempotency-Key`` returns the first answer."""
    caller.require(*_CLIENTS)
    svc = caller.service
    if svc.clock == "wall":
        svc.advance_to_wall_clock()
    fp = "" if idempotency_key is None else caller.fingerprint(body.model_dump(mode="json"))
    with svc.lock:
        seen = caller.answered(idempotency_key, fp, response)
        if seen is not None:
            return seen
        order = _to_order(svc, body)

        def book(eng: Engine) -> tuple[str, str] | None:
            answer = eng.book(order)
            if isinstance(answer, Offer):
                eng.confirm(order.id)
                return None
            return str(answer.reason), answer.detail

        rejection = svc.run(book)
        svc.set_owner(body.id, caller.key.id)
        out = delivery_out(svc, svc.engine.record(body.id), rejection)
        if idempotency_key is not None:
            svc.remember(idempotency_key, fp, 201, out.model_dump(mode="json"))
        return out


@router.get("", response_model=DeliveryPage, operation_id="list_deliveries",
            summary="List deliveries, oldest first, with filters and paging")
def list_deliveries(caller: CallerDep,
                    status: Annotated[RequestStatus | None, Query()] = None,
                    offset: Annotated[int, Query(ge=0)] = 0,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50) -> DeliveryPage:
    """List the deliveries the caller may see."""
    caller.require(*_CLIENTS)
    svc = caller.service
    with svc.lock:
        recs = caller.records(DeliveryOrder, status)
        page = [delivery_out(svc, r) for r in recs[offset: offset + limit]]
    return DeliveryPage(items=page, total=len(recs), offset=offset, limit=limit)


@router.get("/{delivery_id}", response_model=DeliveryOut, operation_id="get_delivery",
            summary="Read one delivery")
def get_delivery(delivery_id: str, caller: CallerDep) -> DeliveryOut:
    """Return one delivery (404 when it is not the caller's to see)."""
    caller.require(*_CLIENTS)
    with caller.service.lock:
        return delivery_out(caller.service, _visible(caller, delivery_id))
