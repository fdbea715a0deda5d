"""Request and response bodies of the HTTP API (separate from the domain types).

Times are ISO 8601 with a time zone (``2026-12-02T09:30:00+09:00``); coordinates are
``lon``/``lat`` in WGS84. Unknown fields are refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    model_validator,
)

Lon = Annotated[float, Field(ge=-180, le=180, description="longitude, WGS84")]
Lat = Annotated[float, Field(ge=-90, le=90, description="latitude, WGS84")]


def _iso_text(v: object) -> object:
    if not isinstance(v, str):
        msg = "must be an ISO 8601 string with a time zone, e.g. 2026-12-02T09:30:00+09:00"
        raise ValueError(msg)
    return v


#: A time at the boundary: ISO 8601 text with a time zone (no bare numbers).
IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_text)]
Id = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:\-]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Point(_Strict):
    """A boarding point by id, or a place by lon/lat (the nearest boarding points within
    the walk limit are offered)."""

    stop_id: str | None = Field(default=None, max_length=100)
    lon: Lon | None = None
    lat: Lat | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Point:
        if (self.stop_id is None) == (self.lon is None or self.lat is None):
            msg = "give either stop_id or both lon and lat"
            raise ValueError(msg)
        return self


class RideRequestIn(_Strict):
    """A ride booking."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "id": "r-0001", "rider": "member-17",
        "origin": {"stop_id": "stop-0"}, "destination": {"stop_id": "hospital-0"},
        "pickup_after": "2026-12-02T10:00:00+09:00",
        "pickup_before": "2026-12-02T10:30:00+09:00",
        "seats": 1, "wheelchairs": 0}]})

    id: Id
    rider: Annotated[str, Field(min_length=1, max_length=100)]
    origin: Point
    destination: Point
    pickup_after: IsoTime | None = None
    pickup_before: IsoTime | None = None
    arrive_by: IsoTime | None = None
    seats: Annotated[StrictInt, Field(ge=0, le=20)] = 1
    wheelchairs: Annotated[StrictInt, Field(ge=0, le=4)] = 0

    @model_validator(mode="after")
    def _times(self) -> RideRequestIn:
        if (self.pickup_after is None) != (self.pickup_before is None):
            msg = "give both pickup_after and pickup_before, or neither"
            raise ValueError(msg)
        if self.pickup_after and self.pickup_before and self.pickup_before < self.pickup_after:
            msg = "pickup_before is before pickup_after"
            raise ValueError(msg)
        if self.seats + self.wheelchairs < 1:
            msg = "seats + wheelchairs must be at least 1"
            raise ValueError(msg)
        return self


class DeliveryIn(_Strict):
    """A delivery from a shop to a delivery point, by van, drone or either."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "id": "d-0001", "customer": "member-17", "shop": {"stop_id": "hospital-0"},
        "to": {"stop_id": "stop-3"}, "ready": "2026-12-02T09:00:00+09:00",
        "deliver_after": "2026-12-02T10:00:00+09:00",
        "deliver_before": "2026-12-02T12:00:00+09:00", "parcels": 1, "weight_kg": 1.0,
        "mode": "van"}]})

    id: Id
    customer: Annotated[str, Field(min_length=1, max_length=100)]
    shop: Point
    to: Point
    ready: IsoTime
    deliver_after: IsoTime
    deliver_before: IsoTime
    parcels: Annotated[StrictInt, Field(ge=1, le=30)] = 1
    weight_kg: Annotated[float, Field(gt=0, le=50)] = 1.0
    mode: Literal["van", "drone", "auto"] = "van"

    @model_validator(mode="after")
    def _times(self) -> DeliveryIn:
        if self.deliver_before < self.deliver_after:
            msg = "deliver_before is before deliver_after"
            raise ValueError(msg)
        if self.deliver_before < self.ready:
            msg = "deliver_before is before ready"
            raise ValueError(msg)
        return self


class Window(BaseModel):
    """An inclusive time window."""

    earliest: datetime
    latest: datetime


class OfferOut(BaseModel):
    """What is promised once the offer is confirmed."""

    vehicle: str
    pickup_stop: str
    dropoff_stop: str
    walk_s: int
    pickup_window: Window
    latest_arrival: datetime | None
    max_ride_s: int | None
    planned_pickup: datetime
    planned_dropoff: datetime
    expires: datetime


class RideRequestOut(BaseModel):
    """A ride request with its status, offer or rejection."""

    id: str
    rider: str
    status: str
    offer: OfferOut | None = None
    rejection_reason: str | None = None
    rejection_detail: str | None = None
    alternatives: list[Window] = []
    picked_up: datetime | None = None
    dropped_off: datetime | None = None
    promise_broken: list[str] = []


class DeliveryOut(BaseModel):
    """A delivery with its status and promise (or rejection)."""

    id: str
    customer: str
    mode: str
    status: str
    carrier: str | None = None
    shop: str
    delivery_point: str
    delivery_window: Window | None = None
    planned_delivery: datetime | None = None
    delivered: datetime | None = None
    rejection_reason: str | None = None
    rejection_detail: str | None = None
    promise_broken: list[str] = []


class DeliveryPage(BaseModel):
    """A page of deliveries."""

    items: list[DeliveryOut]
    total: int
    offset: int
    limit: int


class RideRequestPage(BaseModel):
    """A page of ride requests."""

    items: list[RideRequestOut]
    total: int
    offset: int
    limit: int


class CancelIn(_Strict):
    """Why a ride is cancelled."""

    cause: Annotated[str, Field(max_length=200)] = "rider"


class StopOut(BaseModel):
    """A boarding point."""

    id: str
    name: str
    kind: str
    lon: float
    lat: float


class VehicleOut(BaseModel):
    """A vehicle and its state."""

    index: int
    id: str
    active: bool
    capacity: list[int]
    next_stops: int
    km: float


class ManifestStop(BaseModel):
    """A stop a driver serves next."""

    request_id: str | None
    kind: str
    stop_id: str
    stop_name: str
    arrival: datetime
    departure: datetime
    rider: str | None = None


class VehicleEventIn(_Strict):
    """A report from a vehicle."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"kind": "delay", "seconds": 300, "cause": "traffic"}]})

    kind: Literal["position", "arrived", "delay", "breakdown"]
    at: IsoTime | None = None
    stop_id: str | None = Field(default=None, max_length=100)
    seconds: Annotated[StrictInt, Field(ge=0, le=6 * 3600)] | None = None
    cause: Annotated[str, Field(max_length=200)] = ""


class ClockIn(_Strict):
    """Move the service clock (manual clock only)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"to": "2026-12-02T09:00:00+09:00"}]})

    to: IsoTime


class ClockOut(BaseModel):
    """The service clock."""

    now: datetime
    mode: str


class FieldProblem(BaseModel):
    """One invalid field."""

    field: str
    problem: str


class Problem(BaseModel):
    """An RFC 9457 problem-details body (``application/problem+json``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None


class PlanJobOut(BaseModel):
    """A plan job: its status and, once done, the plan JSON (``hakobu solve``'s format,
    every route checked by the independent checker: ``summary.feasible``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "job-3f9a1c2b7d4e", "status": "queued", "time_limit_s": 30.0, "seed": 0,
        "created": "2026-12-02T08:00:00Z", "started": None, "finished": None,
        "plan": None, "error": None}]})

    id: str
    status: Literal["queued", "running", "done", "failed"]
    time_limit_s: float
    seed: int
    created: datetime
    started: datetime | None = None
    finished: datetime | None = None
    plan: dict[str, Any] | None = None
    error: str | None = None
