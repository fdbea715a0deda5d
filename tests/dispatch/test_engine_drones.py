"""Drones in the live engine on the built-in Kumamoto region: real roads, the DID and
airport airspace (DIDs avoided), a droneport at a hospital outside the DIDs, parcels at
populated cells in its reach (``dispatch.flight_plan.demo_day``) and one inside a DID."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from dispatch.engine import (
    DeliveryOrder,
    Engine,
    EventKind,
    Offer,
    Rejection,
    RejectReason,
    RequestStatus,
    VehicleSpec,
)
from dispatch.engine.drones import DroneFleet, LiveDroneport
from dispatch.errors import InvalidRequestError, OfferExpiredError
from dispatch.network import TravelTable
from routing.drone import DroneSpec
from routing.model import TimeWindow

H = 3600
#: Kumamoto station's forecourt, inside a densely inhabited district.
IN_DID = (130.6887, 32.7898)


@pytest.fixture(scope="module")
def site():  # type: ignore[no-untyped-def]
    from dispatch.flight_plan import demo_day
    from maps.airspace import airspace_for_region
    from maps.region import default_region

    region = default_region()
    airspace = airspace_for_region(region)
    demo = demo_day(region, airspace, spec=DroneSpec(), n_jobs=12, n_ports=1, seed=3)
    port = demo.ports[0]
    pts = np.array([(port.lon, port.lat), *((j.lon, j.lat) for j in demo.jobs), IN_DID])
    from maps.matrix import masked_travel_matrices

    dur, dist, _ = masked_travel_matrices(region.edge_index(), pts, max_snap_m=2000.0,
                                          access_kmh=20.0)
    table = TravelTable(durations=dur, distances=dist, locations=pts)
    fleet = DroneFleet.build(table, (LiveDroneport(id="port", location=0, drones=2),),
                             airspace)
    return table, fleet


def _engine(site, vans: int = 1, start: int = 8 * H) -> Engine:  # type: ignore[no-untyped-def]
    table, fleet = site
    specs = [VehicleSpec(id=f"van{k + 1}", depot=0, capacity=(0, 0, 30),
                         shift=TimeWindow(earliest=8 * H, latest=19 * H)) for k in range(vans)]
    return Engine(table, specs, start_s=start, drones=fleet)


def _order(i: int, home: int, mode: str = "auto", kg: float = 1.0, ready: int = 8 * H,
           window: tuple[int, int] = (8 * H, 12 * H)) -> DeliveryOrder:
    return DeliveryOrder(id=f"d{i}", shop=0, home=home, ready_s=ready, mode=mode,
                         weight_kg=kg, window=TimeWindow(earliest=window[0],
                                                         latest=window[1]))


def test_a_drone_offer_is_kept_and_flown_in_order(site) -> None:  # type: ignore[no-untyped-def]
    eng = _engine(site)
    offer = eng.book(_order(1, 1))
    assert isinstance(offer, Offer) and offer.drone == "port/d1" and offer.vehicle == -1
    dw = offer.delivery_window
    assert dw is not None and 8 * H <= dw.earliest <= dw.latest <= 12 * H
    eng.confirm("d1")
    assert eng.status("d1") is RequestStatus.ASSIGNED and eng.record("d1").vehicle is None
    assert all(not p.stops for p in eng.live_plans())  # no van carries it
    events = eng.advance(13 * H)
    kinds = [e.kind for e in events if e.request_id == "d1" and e.kind.startswith("drone")]
    assert kinds == [EventKind.DRONE_LAUNCHED, EventKind.DRONE_DELIVERED,
                     EventKind.DRONE_RETURNED]
    rec = eng.record("d1")
    assert rec.status is RequestStatus.DROPPED_OFF
    assert rec.dropped_off_s is not None and dw.earliest <= rec.dropped_off_s <= dw.latest
    (s,) = eng.drone_sorties()
    assert s.takeoff_s < s.drop_s < s.landing_s and s.status == "returned"


def test_a_drone_flies_again_after_landing_and_a_battery_swap(site) -> None:  # type: ignore[no-untyped-def]
    eng = _engine(site)
    for i in range(1, 4):
        o = eng.book(_order(i, i, mode="drone", window=(8 * H, 16 * H)))
        assert isinstance(o, Offer), o
        eng.confirm(f"d{i}")
    by_drone: dict[str, list] = {}  # type: ignore[type-arg]
    for s in eng.drone_sorties():
        by_drone.setdefault(s.drone, []).append(s)
    assert sorted(by_drone) == ["port/d1", "port/d2"]
    swap = site[1].spec.swap_s
    for flights in by_drone.values():
        flights.sort(key=lambda x: x.takeoff_s)
        for a, b in itertools.pairwise(flights):
            assert b.takeoff_s >= a.landing_s + swap


def test_what_a_drone_cannot_fly_goes_by_van_or_is_refused(site) -> None:  # type: ignore[no-untyped-def]
    table, _ = site
    did = table.n - 1
    eng = _engine(site)
    heavy = eng.book(_order(1, 2, mode="drone", kg=7.0))
    assert isinstance(heavy, Rejection) and heavy.reason is RejectReason.NO_DRONE
    assert "payload" in heavy.detail
    inside = eng.book(_order(2, did, mode="drone"))
    assert isinstance(inside, Rejection) and "unreachable" in inside.detail
    auto = eng.book(_order(3, did, mode="auto"))
    assert isinstance(auto, Offer) and auto.drone is None and auto.vehicle == 0
    van = eng.book(_order(4, 1, mode="van"))
    assert isinstance(van, Offer) and van.drone is None
    no_drones = Engine(table, [VehicleSpec(id="v", depot=0, capacity=(0, 0, 30))],
                       start_s=8 * H)
    got = no_drones.book(_order(5, 1, mode="drone"))
    assert isinstance(got, Rejection) and got.detail == "the service has no drones"


def test_an_offer_that_no_longer_fits_expires(site) -> None:  # type: ignore[no-untyped-def]
    eng = _engine(site)
    # One drone, a narrow window: two offers for the same slot, the second confirm fails.
    table, fleet = site
    one = replace(fleet, ports=(LiveDroneport(id="port", location=0, drones=1),))
    eng = Engine(table, [], start_s=8 * H, drones=one)
    w = (9 * H, 9 * H + 300)
    a, b = eng.book(_order(1, 1, window=w)), eng.book(_order(2, 1, window=w))
    assert isinstance(a, Offer) and isinstance(b, Offer)
    eng.confirm("d1")
    with pytest.raises(OfferExpiredError, match="no longer fits the drone"):
        eng.confirm("d2")
    assert eng.status("d2") is RequestStatus.EXPIRED


def test_strong_wind_aborts_planned_sorties_only(site) -> None:  # type: ignore[no-untyped-def]
    eng = _engine(site)
    for i, w in ((1, (8 * H, 9 * H)), (2, (14 * H, 16 * H))):
        assert isinstance(eng.book(_order(i, i, window=w)), Offer)
        eng.confirm(f"d{i}")
    eng.advance(10 * H)
    assert eng.status("d1") is RequestStatus.DROPPED_OFF
    eng.set_wind(14.0, 270.0)
    assert eng.status("d2") is RequestStatus.CANCELLED
    assert any(e.kind is EventKind.DRONE_ABORTED and e.request_id == "d2"
               for e in eng.events)
    assert [s.status for s in eng.drone_sorties()] == ["returned", "aborted"]
    with pytest.raises(InvalidRequestError, match="speed_mps"):
        eng.set_wind(-1.0)


def test_cancelling_frees_the_drone(site) -> None:  # type: ignore[no-untyped-def]
    eng = _engine(site)
    assert isinstance(eng.book(_order(1, 1)), Offer)
    eng.confirm("d1")
    eng.cancel("d1")
    assert eng.drone_sorties() == []


def test_live_drone_offers_keep_their_promises_and_replay(site) -> None:  # type: ignore[no-untyped-def]
    table, fleet = site
    rng = np.random.default_rng(7)
    eng = _engine(site, vans=1)
    t = 8 * H
    snap = None
    for i in range(30):
        t += int(rng.integers(60, 900))
        eng.advance(t)
        if i == 15:
            snap = eng.snapshot()
        start = t + int(rng.integers(0, 2 * H))
        order = _order(i, int(rng.integers(1, table.n)), mode=str(rng.choice(
            ["auto", "drone", "van"])), kg=float(rng.uniform(0.2, 6.0)), ready=t,
            window=(start, start + int(rng.integers(1800, 3 * H))))
        got = eng.book(order)
        if isinstance(got, Offer):
            eng.confirm(order.id)
    eng.advance(22 * H)
    flown = [s for s in eng.drone_sorties() if s.status == "returned"]
    assert len(flown) >= 5
    for s in flown:
        rec = eng.record(s.request_id)
        w = rec.offer.delivery_window  # type: ignore[union-attr]
        assert rec.status is RequestStatus.DROPPED_OFF
        assert w is not None and w.earliest <= rec.dropped_off_s <= w.latest  # type: ignore[operator]
        assert s.drop_s <= rec.request.window.latest  # type: ignore[union-attr]
    # The command log rebuilds the same day, from the start and from a snapshot.
    vans = [eng.vehicle_spec(0)]
    again = Engine.replay(table, vans, None, eng.commands, start_s=8 * H, drones=fleet)
    assert again.to_dict() == eng.to_dict()
    assert again.drone_sorties() == eng.drone_sorties()
    assert snap is not None
    later = Engine.replay(table, vans, None, eng.commands, snapshot=snap, drones=fleet)
    assert later.drone_sorties() == eng.drone_sorties() and later.events == eng.events


def test_reoptimization_leaves_drone_deliveries_alone(site) -> None:  # type: ignore[no-untyped-def]
    from dispatch.reoptimize import ReoptParams, reoptimize

    eng = _engine(site, vans=2)
    for i, mode in ((1, "drone"), (2, "van"), (3, "van")):
        assert isinstance(eng.book(_order(i, i, mode=mode, window=(9 * H, 13 * H))), Offer)
        eng.confirm(f"d{i}")
    reoptimize(eng, ReoptParams(time_limit_s=1.0, use_solver=False))
    planned = {s.key for p in eng.live_plans() for s in p.stops}
    assert planned == {"d2", "d3"}
    eng.advance(20 * H)
    assert all(eng.status(f"d{i}") is RequestStatus.DROPPED_OFF for i in (1, 2, 3))


def test_simulate_and_demo_fly_deliveries_by_drone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from typer.testing import CliRunner

    from api.cli import app

    args = ["simulate", "--requests", "20", "--deliveries", "12", "--vehicles", "2"]
    res = CliRunner().invoke(app, [*args, "--drones", "2", "--did-policy", "permit",
                                   "--out", str(tmp_path / "permit")])
    assert res.exit_code == 0, res.output
    k = json.loads((tmp_path / "permit" / "kpis.json").read_text(encoding="utf-8"))
    assert k["deliveries_by_drone"] > 0 and k["drone_sorties"] >= k["deliveries_by_drone"]
    assert k["deliveries_served"] == 12 and k["deliveries_on_time_share"] == 1.0
    assert "Deliveries by drone" in res.stdout
    report = json.loads((tmp_path / "permit" / "report.json").read_text(encoding="utf-8"))
    flown = [r for r in report["records"] if r.get("drone")]
    assert len(flown) == k["deliveries_by_drone"] and all(r["vehicle"] is None for r in flown)
    # Under the default DID policy the pharmacy (inside a DID) cannot launch a drone.
    res = CliRunner().invoke(app, [*args, "--drones", "2", "--out", str(tmp_path / "avoid")])
    assert res.exit_code == 0, res.output
    assert "lie in avoided airspace" in res.stderr
    k = json.loads((tmp_path / "avoid" / "kpis.json").read_text(encoding="utf-8"))
    assert k["deliveries_by_drone"] == 0 and k["deliveries_served"] == 12
    bad = CliRunner().invoke(app, [*args, "--did-policy", "fly"])
    assert bad.exit_code == 2 and "--did-policy: 'fly' is not avoid or permit" in bad.stderr
    bad = CliRunner().invoke(app, [*args, "--drones", "-1"])
    assert bad.exit_code == 2 and "--drones" in bad.stderr


def test_simulate_flies_drones_on_user_files_with_their_no_fly_layers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json
    from pathlib import Path

    from typer.testing import CliRunner

    from api.cli import app

    d = Path(__file__).resolve().parents[2] / "maps" / "data" / "kumamoto"
    files = ["--osm", str(d / "kumamoto_chuo_highways_2023-01.osm.bz2"),
             "--population", str(d / "tblT001101H4930.txt"),
             "--pois", str(d / "kumamoto_city_hospitals.geojson"),
             "--no-fly", str(d / "r02_did_43_kumamoto_clipped.geojson"),
             "--no-fly", str(d / "kumamoto_airport_C28.geojson")]
    args = ["simulate", *files, "--requests", "10", "--deliveries", "8", "--vehicles", "1",
            "--drones", "2"]
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "avoid")])
    assert res.exit_code == 0, res.output
    # The DID layer given with --no-fly grounds the drones at the pharmacy inside a DID.
    assert "lie in avoided airspace" in res.stderr
    res = CliRunner().invoke(app, [*args, "--did-policy", "permit",
                                   "--out", str(tmp_path / "permit")])
    assert res.exit_code == 0, res.output
    k = json.loads((tmp_path / "permit" / "kpis.json").read_text(encoding="utf-8"))
    assert k["deliveries_by_drone"] > 0 and k["deliveries_on_time_share"] == 1.0
    bad = CliRunner().invoke(app, ["simulate", "--no-fly", str(d / "kumamoto_airport_C28.geojson")])
    assert bad.exit_code == 2 and "--osm" in bad.stderr
