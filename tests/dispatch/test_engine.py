"""The dispatch engine on real Kumamoto travel times: lifecycle, promises, events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.engine import (
    FINAL_STATUSES,
    DeliveryOrder,
    DispatchConfig,
    Engine,
    EventKind,
    Offer,
    Rejection,
    RejectReason,
    RequestStatus,
    RideRequest,
    StopOption,
    VehicleSpec,
)
from dispatch.errors import (
    DispatchError,
    DuplicateRequestError,
    InvalidRequestError,
    InvalidTransitionError,
    OfferExpiredError,
    UnknownRequestError,
)
from dispatch.network import TravelTable
from dispatch.reoptimize import ReoptParams, reoptimize
from routing.insertion import schedule
from routing.model import UNREACHABLE, Break, TimeWindow

H = 3600


@pytest.fixture(scope="module")
def table(stops_table: Callable[[int], TravelTable]) -> TravelTable:
    """A depot and 29 seeded in-area transit stops of the built-in region."""
    return stops_table(11)


def _fleet(n: int = 3, vans: int = 1) -> list[VehicleSpec]:
    lunch = (Break(window=TimeWindow(earliest=12 * H, latest=13 * H), duration_s=1800),)
    buses = [VehicleSpec(id=f"bus{k}", depot=0, capacity=(4, 1, 0), breaks=lunch)
             for k in range(n)]
    return buses + [VehicleSpec(id=f"van{k}", depot=1, capacity=(1, 0, 10))
                    for k in range(vans)]


def _ride(rid: str, a: int, b: int, pw: TimeWindow | None = None, **kw: int) -> RideRequest:
    return RideRequest(id=rid, rider=f"m{rid}", origin=(StopOption(location=a),),
                       destination=(StopOption(location=b),), pickup_window=pw, **kw)


def _book_confirm(eng: Engine, req: RideRequest | DeliveryOrder) -> Offer | Rejection:
    ans = eng.book(req)
    if isinstance(ans, Offer):
        return eng.confirm(req.id)
    return ans


def _run_day(table: TravelTable, seed: int, n: int = 40, events: bool = True) -> Engine:
    """A seeded random day with cancellations, no-shows and delays."""
    rng = np.random.default_rng(seed)
    eng = Engine(table, _fleet(), DispatchConfig(), start_s=7 * H)
    t = 7 * H
    for i in range(n):
        t += int(rng.integers(60, 900))
        eng.advance(t)
        a, b = (int(x) for x in rng.choice(np.arange(2, table.n), 2, replace=False))
        if i % 8 == 7:
            req: RideRequest | DeliveryOrder = DeliveryOrder(
                id=f"d{i}", shop=1, home=b, ready_s=t,
                window=TimeWindow(earliest=t + H, latest=t + 3 * H))
        elif rng.random() < 0.5:
            req = _ride(f"r{i}", a, b)
        else:
            e = t + int(rng.integers(H, 4 * H))
            req = _ride(f"r{i}", a, b, TimeWindow(earliest=e, latest=e + 1800))
        _book_confirm(eng, req)
        if events:
            _random_event(eng, rng)
    eng.close_day()
    return eng


def _random_event(eng: Engine, rng: np.random.Generator) -> None:
    x = rng.random()
    assigned = [r.request.id for r in eng.records() if r.status is RequestStatus.ASSIGNED]
    if x < 0.08 and assigned:
        eng.cancel(assigned[int(rng.integers(len(assigned)))])
    elif x < 0.14 and assigned:
        eng.no_show(assigned[int(rng.integers(len(assigned)))])
    elif x < 0.2:
        eng.delay(int(rng.integers(eng.n_vehicles)), int(rng.integers(60, 1200)), cause="jam")
    elif x < 0.3:  # re-optimization in the middle of a live day must keep every promise
        reoptimize(eng, ReoptParams(use_solver=False, time_limit_s=60))


def _check_day(eng: Engine, allowed_causes: set[str]) -> None:
    recs = eng.records()
    # every request ends in exactly one final state
    assert all(r.status in FINAL_STATUSES for r in recs), Counter(r.status for r in recs)
    finals = Counter(e.request_id for e in eng.events
                     if e.kind is EventKind.STATUS and e.status in FINAL_STATUSES)
    assert all(finals[r.request.id] == 1 for r in recs)
    # no promise broken except by an injected vehicle event, and kept promises hold
    for r in recs:
        assert set(r.broken) <= allowed_causes, (r.request.id, r.broken)
        if r.status is RequestStatus.DROPPED_OFF and not r.broken:
            o = r.offer
            assert o is not None and r.picked_up_s is not None and r.dropped_off_s is not None
            if o.delivery_window is None:
                assert o.pickup_window.contains(r.picked_up_s)
                assert r.dropped_off_s <= o.latest_arrival
                assert o.max_ride_s is not None
                assert r.dropped_off_s - (r.picked_up_s + 60) <= o.max_ride_s
            else:
                assert o.delivery_window.contains(r.dropped_off_s)
    # capacity never exceeded
    for k in range(eng.n_vehicles):
        cap = eng.vehicle_spec(k).capacity
        for s in eng.history(k):
            assert all(0 <= q <= c for q, c in zip(s.load_after, cap, strict=True)), s


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_random_day_keeps_promises_and_capacity(table: TravelTable, seed: int) -> None:
    eng = _run_day(table, seed)
    _check_day(eng, {"jam"})
    assert any(r.status is RequestStatus.DROPPED_OFF for r in eng.records())


def test_quiet_day_breaks_no_promise(table: TravelTable) -> None:
    eng = _run_day(table, 3, events=False)
    _check_day(eng, set())
    assert all(r.promise_kept in (True, None) for r in eng.records())


def test_same_seed_same_day(table: TravelTable) -> None:
    a, b = _run_day(table, 21), _run_day(table, 21)
    assert a.events == b.events
    assert a.to_dict() == b.to_dict()


def test_offer_window_and_promise(table: TravelTable) -> None:
    eng = Engine(table, _fleet(), start_s=8 * H)
    want = TimeWindow(earliest=9 * H, latest=10 * H)
    offer = eng.book(_ride("a", 3, 17, want))
    assert isinstance(offer, Offer)
    assert eng.status("a") is RequestStatus.OFFERED
    pw = offer.pickup_window
    assert want.earliest <= pw.earliest <= offer.planned_pickup_s <= pw.latest <= want.latest
    assert pw.latest - pw.earliest <= 600 + 900
    direct = table.travel_s(3, 17)
    assert offer.max_ride_s == eng.max_ride_s(direct)
    assert offer.planned_dropoff_s <= offer.latest_arrival
    eng.confirm("a")
    assert eng.status("a") is RequestStatus.ASSIGNED
    statuses = [e.status for e in eng.events if e.request_id == "a" and e.status]
    assert statuses == [RequestStatus.REQUESTED, RequestStatus.OFFERED,
                        RequestStatus.CONFIRMED, RequestStatus.ASSIGNED]


def test_arrive_by_meets_the_appointment(table: TravelTable) -> None:
    eng = Engine(table, _fleet(), start_s=8 * H)
    offer = eng.book(_ride("clinic", 5, 22, arrive_by=11 * H))
    assert isinstance(offer, Offer)
    assert offer.latest_arrival <= 11 * H
    eng.confirm("clinic")
    eng.close_day()
    rec = eng.record("clinic")
    assert rec.dropped_off_s is not None and rec.dropped_off_s <= 11 * H


def test_cancel_after_pickup_is_refused(table: TravelTable) -> None:
    eng = Engine(table, _fleet(1, 0), start_s=8 * H)
    _book_confirm(eng, _ride("a", 3, 17))
    pick = next(s for s in eng.plan(0) if s.key == "a")
    eng.advance(pick.start_s)
    assert eng.status("a") is RequestStatus.PICKED_UP
    with pytest.raises(InvalidTransitionError, match="after pickup"):
        eng.cancel("a")
    assert isinstance(InvalidTransitionError("x"), ValueError | DispatchError)


def test_cancel_before_pickup_frees_the_seat(table: TravelTable) -> None:
    fleet = [VehicleSpec(id="solo", depot=0, capacity=(1, 0, 0))]
    eng = Engine(table, fleet, start_s=8 * H)
    want = TimeWindow(earliest=9 * H, latest=9 * H + 600)
    assert isinstance(_book_confirm(eng, _ride("a", 4, 12, want)), Offer)
    assert isinstance(eng.book(_ride("b", 4, 12, want)), Rejection)
    eng.cancel("a")
    assert eng.status("a") is RequestStatus.CANCELLED
    assert eng.plan(0) == ()
    assert isinstance(eng.book(_ride("c", 4, 12, want)), Offer)


def test_no_show_removes_the_stops(table: TravelTable) -> None:
    eng = Engine(table, _fleet(1, 0), start_s=8 * H)
    _book_confirm(eng, _ride("a", 3, 17))
    _book_confirm(eng, _ride("b", 8, 21))
    eng.no_show("a")
    assert eng.status("a") is RequestStatus.NO_SHOW
    assert all(s.key != "a" for s in eng.plan(0))
    with pytest.raises(InvalidTransitionError):
        eng.no_show("a")
    eng.close_day()
    assert eng.status("b") is RequestStatus.DROPPED_OFF


def test_delay_that_breaks_a_promise_is_recorded(table: TravelTable) -> None:
    eng = Engine(table, _fleet(1, 0), start_s=8 * H)
    offer = _book_confirm(eng, _ride("a", 3, 17, TimeWindow(earliest=8 * H, latest=8 * H + 900)))
    assert isinstance(offer, Offer)
    eng.delay(0, 2 * H, cause="snow")
    rec = eng.record("a")
    assert rec.broken == ("snow",)
    broken = [e for e in eng.events if e.kind is EventKind.PROMISE_BROKEN]
    assert broken[0].request_id == "a" and broken[0].value_s > 0
    eng.close_day()
    assert eng.record("a").promise_kept is False
    assert eng.status("a") is RequestStatus.DROPPED_OFF


def test_breakdown_moves_riders_and_rescues_those_on_board(table: TravelTable) -> None:
    eng = Engine(table, _fleet(2, 0), start_s=8 * H)
    for i, (a, b) in enumerate([(3, 17), (8, 21), (9, 25), (12, 5)]):
        e = 8 * H + 1200 * i
        _book_confirm(eng, _ride(f"r{i}", a, b, TimeWindow(earliest=e, latest=e + 1800)))
    broken_vehicle = eng.record("r0").vehicle
    assert broken_vehicle is not None
    pick = next(s for s in eng.plan(broken_vehicle) if s.key == "r0")
    eng.advance(pick.start_s)
    assert eng.status("r0") is RequestStatus.PICKED_UP
    mine = {r.request.id for r in eng.records() if r.vehicle == broken_vehicle}
    eng.breakdown(broken_vehicle)
    assert not eng.is_active(broken_vehicle)
    assert eng.plan(broken_vehicle) == ()
    for rid in mine:
        rec = eng.record(rid)
        assert rec.status in (RequestStatus.ASSIGNED, RequestStatus.CANCELLED)
        assert rec.status is RequestStatus.CANCELLED or rec.vehicle != broken_vehicle
        assert set(rec.broken) <= {"breakdown"}
    assert any(e.kind is EventKind.BREAKDOWN for e in eng.events)
    other = 1 - broken_vehicle
    sch = schedule(eng.vehicle_plan(other), table.durations, table.distances)
    assert sch.feasible
    eng.close_day()
    _check_day(eng, {"breakdown"})
    rescued = eng.record("r0")
    if rescued.status is RequestStatus.DROPPED_OFF:
        assert any(s.key == "r0" for s in eng.history(other))


def test_rejection_reasons_and_alternatives(table: TravelTable) -> None:
    cfg = DispatchConfig(members=frozenset({"alice"}))
    eng = Engine(table, [VehicleSpec(id="v", depot=0, capacity=(1, 0, 0))], cfg, start_s=8 * H)
    req = RideRequest(id="x", rider="bob", origin=(StopOption(location=3),),
                      destination=(StopOption(location=4),))
    rej = eng.book(req)
    assert isinstance(rej, Rejection) and rej.reason is RejectReason.NOT_MEMBER
    wc = RideRequest(id="w", rider="alice", origin=(StopOption(location=3),),
                     destination=(StopOption(location=4),), wheelchairs=1)
    rej = eng.book(wc)
    assert isinstance(rej, Rejection) and rej.reason is RejectReason.NO_WHEELCHAIR_VEHICLE
    far = RideRequest(id="f", rider="alice", origin=(StopOption(location=3, walk_s=2000),),
                      destination=(StopOption(location=4),))
    rej = eng.book(far)
    assert isinstance(rej, Rejection) and rej.reason is RejectReason.NO_STOP_IN_WALK
    want = TimeWindow(earliest=10 * H, latest=10 * H + 300)
    assert isinstance(_book_confirm(eng, RideRequest(
        id="a", rider="alice", origin=(StopOption(location=6),),
        destination=(StopOption(location=20),), pickup_window=want)), Offer)
    rej = eng.book(RideRequest(id="b", rider="alice", origin=(StopOption(location=20),),
                               destination=(StopOption(location=6),), pickup_window=want))
    assert isinstance(rej, Rejection) and rej.reason is RejectReason.NO_FEASIBLE_INSERTION
    assert 1 <= len(rej.alternatives) <= 3
    alt = rej.alternatives[0]
    retry = eng.book(RideRequest(id="b2", rider="alice", origin=(StopOption(location=20),),
                                 destination=(StopOption(location=6),), pickup_window=alt))
    assert isinstance(retry, Offer)


def test_offer_expires(table: TravelTable) -> None:
    eng = Engine(table, _fleet(), DispatchConfig(offer_ttl_s=120), start_s=8 * H)
    assert isinstance(eng.book(_ride("a", 3, 17)), Offer)
    eng.advance(8 * H + 300)
    assert eng.status("a") is RequestStatus.EXPIRED
    with pytest.raises(InvalidTransitionError):
        eng.confirm("a")
    assert isinstance(eng.book(_ride("b", 3, 17)), Offer)
    eng.position(0, 0, 8 * H + 1000)  # the clock moves on a vehicle report, no advance
    with pytest.raises(OfferExpiredError):
        eng.confirm("b")  # the rider answers late
    assert eng.status("b") is RequestStatus.EXPIRED
    assert eng.commands[-1].op == "confirm" and eng.commands[-1].error == "OfferExpiredError"


def test_deliveries_go_to_vans_only(table: TravelTable) -> None:
    eng = Engine(table, _fleet(2, 1), start_s=8 * H)
    order = DeliveryOrder(id="d", shop=1, home=14, ready_s=8 * H,
                          window=TimeWindow(earliest=9 * H, latest=11 * H), parcels=3)
    offer = _book_confirm(eng, order)
    assert isinstance(offer, Offer) and offer.delivery_window is not None
    assert eng.record("d").vehicle == 2
    eng.close_day()
    rec = eng.record("d")
    assert rec.status is RequestStatus.DROPPED_OFF
    assert rec.dropped_off_s is not None and offer.delivery_window.contains(rec.dropped_off_s)


def test_errors_name_the_problem(table: TravelTable) -> None:
    eng = Engine(table, _fleet(), start_s=8 * H)
    with pytest.raises(UnknownRequestError) as exc:
        eng.status("nope")
    assert isinstance(exc.value, KeyError) and "nope" in str(exc.value)
    eng.book(_ride("a", 3, 17))
    with pytest.raises(DuplicateRequestError):
        eng.book(_ride("a", 3, 17))
    with pytest.raises(DispatchError, match="outside the travel table"):
        eng.book(_ride("z", 3, 999))


def test_vehicle_km_and_hours_follow_the_roads(table: TravelTable) -> None:
    eng = Engine(table, _fleet(1, 0), start_s=8 * H)
    _book_confirm(eng, _ride("a", 3, 17))
    eng.close_day()
    expected = (table.distance_m(0, 3) + table.distance_m(3, 17) + table.distance_m(17, 0))
    assert eng.vehicle_km(0) == pytest.approx(expected / 1000)
    assert eng.vehicle_hours(0) > 0


def test_travel_table_validates_and_subsets(table: TravelTable) -> None:
    from dispatch.network import TravelTableError, table_from_matrices

    sub = table.subset([4, 9, 2])
    assert sub.n == 3 and sub.travel_s(0, 1) == table.travel_s(4, 9)
    assert sub.distance_m(2, 0) == table.distance_m(2, 4)
    with pytest.raises(TravelTableError, match="durations"):
        table_from_matrices(np.ones((3, 2), dtype=np.int64))
    with pytest.raises(TravelTableError, match="zero diagonal"):
        table_from_matrices(np.ones((2, 2), dtype=np.int64))
    assert not table.durations.flags.writeable


def test_live_vehicle_reports_drive_the_lifecycle(table: TravelTable) -> None:
    eng = Engine(table, _fleet(1, 0), start_s=8 * H)
    offer = _book_confirm(eng, _ride("a", 3, 17))
    assert isinstance(offer, Offer)
    with pytest.raises(InvalidTransitionError, match="not the next stop"):
        eng.dropped_off("a", 8 * H + 600)
    first = eng.plan(0)[0]
    done = eng.picked_up("a", first.arrival_s + 120)
    assert done.start_s >= first.arrival_s + 120
    assert eng.status("a") is RequestStatus.PICKED_UP
    assert eng.record("a").picked_up_s == done.start_s
    drop = eng.plan(0)[0]
    eng.dropped_off("a", drop.arrival_s + 60)
    assert eng.status("a") is RequestStatus.DROPPED_OFF
    assert [s.key for s in eng.history(0)] == ["a", "a"]


def test_engine_started_after_a_break_window_still_books(table: TravelTable) -> None:
    eng = Engine(table, _fleet(1, 0), start_s=14 * H)  # lunch window 12-13 is over
    assert all(s.kind != "break" for s in eng.plan(0))
    assert isinstance(eng.book(_ride("a", 3, 17)), Offer)


@pytest.mark.parametrize(("build", "field"), [
    (lambda: DispatchConfig(offer_ttl_s=0), "config.offer_ttl_s"),
    (lambda: DispatchConfig(ride_alpha=0.5), "config.ride_alpha"),
    (lambda: DispatchConfig(ride_alpha=float("nan")), "config.ride_alpha"),
    (lambda: DispatchConfig(max_walk_s=-1), "config.max_walk_s"),
    (lambda: DispatchConfig(alternative_step_s=0), "config.alternative_step_s"),
    (lambda: DispatchConfig(dimensions=("seats", "seats")), "config.dimensions"),
    (lambda: VehicleSpec(id="v", depot=0, capacity=(0, 0, 0)), "vehicle v.capacity"),
    (lambda: VehicleSpec(id="v", depot=0, capacity=(-1, 1, 0)), "vehicle v.capacity[0]"),
    (lambda: VehicleSpec(id="", depot=0), "vehicle.id"),
    (lambda: _ride("r", 1, 2, seats=0), "seats + wheelchairs"),
    (lambda: _ride("r", 1, 2, wheelchairs=-1), "request 'r'.wheelchairs"),
    (lambda: RideRequest(id="r", rider="x", origin=(StopOption(location=1, walk_s=-5),),
                         destination=(StopOption(location=2),)), "origin[0].walk_s"),
    (lambda: _ride("r", 1, 2, TimeWindow(earliest=9 * H, latest=10 * H), arrive_by=8 * H),
     "request 'r'.arrive_by"),
    (lambda: DeliveryOrder(id="d", shop=1, home=2, ready_s=12 * H, parcels=1,
                           window=TimeWindow(earliest=9 * H, latest=10 * H)),
     "delivery 'd'.window"),
    (lambda: DeliveryOrder(id="d", shop=1, home=2, ready_s=0, parcels=0,
                           window=TimeWindow(earliest=9 * H, latest=10 * H)),
     "delivery 'd'.parcels"),
])
def test_bad_rules_and_requests_name_the_field(build: Callable[[], object], field: str) -> None:
    with pytest.raises(InvalidRequestError, match=field.replace("[", r"\[").replace(
            "]", r"\]").replace("+", r"\+")):
        build()


def test_a_stop_no_vehicle_can_reach_is_unreachable_not_late(table: TravelTable) -> None:
    """A stop cut off from the depots (every road to it closed) gets the true reason."""
    dur = np.array(table.durations)
    cut = 7
    dur[:, cut] = UNREACHABLE  # nothing reaches stop 7 ...
    dur[cut, cut] = 0
    dur[cut, 9] = table.durations[cut, 9]  # ... but it has a road out to stop 9
    island = TravelTable(locations=table.locations, durations=dur, distances=table.distances)
    eng = Engine(island, _fleet(), start_s=8 * H)
    rej = eng.book(_ride("r", cut, 9))
    assert isinstance(rej, Rejection)
    assert rej.reason is RejectReason.UNREACHABLE, rej
    ok = eng.book(_ride("s", 9, 3))
    assert isinstance(ok, Offer)
