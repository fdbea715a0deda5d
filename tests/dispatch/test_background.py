"""The background re-optimizer: bookings go on while it runs, merges keep them, events drop it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest

from dispatch.background import BackgroundError, BackgroundReoptimizer
from dispatch.engine import Engine, Offer, RequestStatus, RideRequest, StopOption, VehicleSpec
from dispatch.network import TravelTable
from dispatch.reoptimize import ReoptParams, reoptimize
from routing.insertion import schedule
from routing.model import Break, TimeWindow

H = 3600
#: Seed 1 at 09:00 is a day where the solver finds a gain (see test_reoptimize).
PARAMS = ReoptParams(time_limit_s=30, max_iterations=20, seed=1)


@pytest.fixture(scope="module")
def table(stops_table: Callable[[int], TravelTable]) -> TravelTable:
    """A depot and 29 seeded in-area transit stops of the built-in region."""
    return stops_table(13)


def _engine(table: TravelTable, seed: int = 1, n: int = 20) -> Engine:
    """Pre-booked rides confirmed in booking order, advanced to 09:00."""
    lunch = (Break(window=TimeWindow(earliest=12 * H, latest=13 * H), duration_s=1800),)
    fleet = [VehicleSpec(id=f"v{k}", depot=0, capacity=(4, 1, 0), breaks=lunch)
             for k in range(3)]
    eng = Engine(table, fleet, start_s=7 * H)
    rng = np.random.default_rng(seed)
    for i in range(n):
        a, b = (int(x) for x in rng.choice(np.arange(1, table.n), 2, replace=False))
        e = int(rng.integers(8 * H, 15 * H))
        req = RideRequest(id=f"r{i}", rider="m", origin=(StopOption(location=a),),
                          destination=(StopOption(location=b),),
                          pickup_window=TimeWindow(earliest=e, latest=e + 3600))
        if isinstance(eng.book(req), Offer):
            eng.confirm(req.id)
    eng.advance(9 * H)
    return eng


def _late(i: int, a: int, b: int, at: int) -> RideRequest:
    return RideRequest(id=f"late{i}", rider="m", origin=(StopOption(location=a),),
                       destination=(StopOption(location=b),),
                       pickup_window=TimeWindow(earliest=at, latest=at + 3600))


def _keys(eng: Engine) -> list[str]:
    return [s.key for k in range(eng.n_vehicles) for s in eng.plan(k)]


def _assert_feasible(eng: Engine) -> None:
    for k in range(eng.n_vehicles):
        sch = schedule(eng.vehicle_plan(k), eng.table.durations, eng.table.distances)
        assert sch.feasible, sch.violations


@pytest.fixture()
def bg_engine(table: TravelTable) -> Iterator[tuple[BackgroundReoptimizer, Engine]]:
    eng = _engine(table)
    bg = BackgroundReoptimizer(eng, PARAMS)
    yield bg, eng
    bg.close()


def test_bookings_are_answered_while_it_runs_and_kept_by_the_merge(
    bg_engine: tuple[BackgroundReoptimizer, Engine],
) -> None:
    bg, eng = bg_engine
    assert bg.start()
    assert not bg.start()  # one run at a time
    answered_while_running = []
    for i, (a, b, at) in enumerate([(4, 9, 14 * H), (7, 15, 14 * H), (5, 25, 13 * H)]):
        answer = eng.book(_late(i, a, b, at))
        # the booking came back before the worker was done: it did not wait for it
        answered_while_running.append(not bg.ready)
        assert isinstance(answer, Offer)
        eng.confirm(f"late{i}")
    assert answered_while_running[0]
    res = bg.wait(timeout=300)
    assert res is not None and not bg.running
    assert res.adopted, res.reason
    assert res.cost_after < res.cost_before
    assert res.improve_s > 0 and 0 <= res.merge_s < res.runtime_s
    keys = _keys(eng)
    assert all(keys.count(f"late{i}") == 2 for i in range(3))
    _assert_feasible(eng)
    eng.close_day()
    assert all(not r.broken for r in eng.records())


def test_a_cancellation_made_meanwhile_is_kept(
    bg_engine: tuple[BackgroundReoptimizer, Engine],
) -> None:
    bg, eng = bg_engine
    assert bg.start()
    gone = next(r.request.id for r in eng.records() if r.status is RequestStatus.ASSIGNED)
    eng.cancel(gone)
    res = bg.wait(timeout=300)
    assert res is not None and res.adopted, res
    assert gone not in _keys(eng)
    assert eng.status(gone) is RequestStatus.CANCELLED
    _assert_feasible(eng)


def test_the_same_plans_as_inline_when_nothing_happens_meanwhile(
    table: TravelTable, bg_engine: tuple[BackgroundReoptimizer, Engine],
) -> None:
    bg, eng = bg_engine
    assert bg.start(lock_until=eng.now)
    res = bg.wait(timeout=300)
    inline = _engine(table)
    ref = reoptimize(inline, PARAMS)
    assert res is not None and res.adopted and ref.adopted
    assert (res.method, res.cost_after) == (ref.method, ref.cost_after)
    assert [eng.vehicle_plan(k) for k in range(3)] == [inline.vehicle_plan(k) for k in range(3)]


def test_a_breakdown_meanwhile_drops_the_result(
    bg_engine: tuple[BackgroundReoptimizer, Engine],
) -> None:
    bg, eng = bg_engine
    assert bg.start()
    eng.breakdown(0, cause="flat tyre")
    plans = [eng.vehicle_plan(k) for k in range(3)]
    res = bg.wait(timeout=300)
    assert res is not None and not res.adopted
    assert "breakdown" in res.reason
    assert [eng.vehicle_plan(k) for k in range(3)] == plans
    assert bg.runs == 1 and bg.adopted == 0


def test_thread_mode_and_poll(table: TravelTable) -> None:
    eng = _engine(table, n=12)
    with BackgroundReoptimizer(eng, ReoptParams(use_solver=False), mode="thread") as bg:
        assert bg.poll() is None  # nothing running
        assert bg.start()
        res = bg.wait(timeout=300)
        assert res is not None
        assert bg.poll() is None and not bg.running
        assert res.method == "reinsertion"
    _assert_feasible(eng)


def test_bad_options_are_refused(table: TravelTable) -> None:
    eng = _engine(table, n=2)
    with pytest.raises(BackgroundError, match="mode"):
        BackgroundReoptimizer(eng, mode="cluster")
    with pytest.raises(BackgroundError, match="lock_ahead_s"):
        BackgroundReoptimizer(eng, lock_ahead_s=-1)


def test_a_simulated_day_with_background_reoptimization_is_reproducible() -> None:
    """The default simulation re-optimizes in a worker and merges at a fixed simulated
    delay: the same seed gives the same day, and the runs are really merged."""
    from dataclasses import replace

    from dispatch.demand import (
        DemandConfig,
        generate_day,
        sources_from_region,
        travel_table_for_day,
    )
    from dispatch.simulate import FinalState, SimulationConfig, simulate_day
    from maps.region import default_region

    region = default_region()
    day = generate_day(sources_from_region(region),
                       DemandConfig(seed=5, n_requests=40, n_deliveries=0))
    table = travel_table_for_day(region, day)
    cfg = SimulationConfig(seed=5, vehicles=3, vans=0, reopt_every_s=30 * 60,
                           reopt_time_limit_s=30.0, reopt_max_iterations=20)
    assert cfg.reopt_background and cfg.reopt_delay_s > 0
    runs = [simulate_day(day, table, cfg) for _ in range(2)]
    inline = simulate_day(day, table, replace(cfg, reopt_background=False))
    outcome = [[(r.id, r.final, r.vehicle, r.picked_up_s, r.dropped_off_s) for r in res.records]
               for res in (*runs, inline)]
    assert outcome[0] == outcome[1]
    assert runs[0].reopt_runs == inline.reopt_runs > 0
    assert runs[0].reopt_adopted > 0
    for res in runs:
        assert all(not r.broken for r in res.records)
        assert sum(r.final is FinalState.SERVED for r in res.records) > 0
