"""The multirotor energy model, the wind triangle and sortie refusals (routing/drone.py)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from routing.drone import (
    DroneSpec,
    Refusal,
    Wind,
    check_sortie,
    climb_power_w,
    endurance_s,
    flight_time_s,
    flight_track,
    level_power_w,
    sortie_energy,
    sortie_profile,
)
from routing.errors import ProblemError
from routing.model import TimeWindow

SPEC = DroneSpec()
PORT = (130.70, 32.80)
EAST = (130.73, 32.80)  # about 2.8 km east


def test_hover_power_matches_momentum_theory() -> None:
    mass = SPEC.empty_kg + 2.0
    thrust = mass * 9.80665
    disc = SPEC.rotors * math.pi * SPEC.rotor_diameter_m ** 2 / 4
    ideal = thrust ** 1.5 / math.sqrt(2 * 1.225 * disc)
    assert level_power_w(SPEC, 2.0, 0.0) == pytest.approx(
        ideal / SPEC.efficiency + SPEC.avionics_w, rel=1e-6)


def test_energy_grows_with_payload() -> None:
    energies = [sortie_energy(SPEC, Wind(), PORT, [EAST], [w]) for w in (0.5, 2.0, 4.5)]
    assert energies[0] < energies[1] < energies[2]
    assert level_power_w(SPEC, 3.0, 12.0) > level_power_w(SPEC, 1.0, 12.0)
    assert climb_power_w(SPEC, 1.0, 2.5) > level_power_w(SPEC, 1.0, 0.0)


def test_energy_grows_with_headwind_and_distance() -> None:
    calm = sortie_profile(SPEC, Wind(), PORT, [EAST], [2.0])
    head = flight_time_s(SPEC, Wind(speed_mps=6, from_deg=90), [PORT, EAST])
    tail = flight_time_s(SPEC, Wind(speed_mps=6, from_deg=270), [PORT, EAST])
    still = flight_time_s(SPEC, Wind(), [PORT, EAST])
    assert head is not None and tail is not None and still is not None
    assert tail < still < head
    # out and back in a 6 m/s wind costs more than in calm air
    windy = sortie_profile(SPEC, Wind(speed_mps=6, from_deg=90), PORT, [EAST], [2.0])
    assert windy.energy_wh > calm.energy_wh
    far = sortie_profile(SPEC, Wind(), PORT, [(130.76, 32.80)], [2.0])
    assert far.energy_wh > calm.energy_wh
    assert far.distance_m == pytest.approx(2 * 5610, rel=0.01)


def test_payload_over_limit_is_refused() -> None:
    prof = check_sortie(SPEC, Wind(), PORT, [EAST, EAST], [3.0, 2.5])
    assert not prof.ok and prof.reason is Refusal.PAYLOAD
    assert "5.50 kg" in prof.detail
    with pytest.raises(ProblemError, match="payload"):
        sortie_energy(SPEC, Wind(), PORT, [EAST], [6.0])


def test_wind_over_maximum_is_refused() -> None:
    prof = check_sortie(SPEC, Wind(speed_mps=11, from_deg=0), PORT, [EAST], [1.0])
    assert not prof.ok and prof.reason is Refusal.WIND
    assert check_sortie(SPEC, Wind(speed_mps=10, from_deg=0), PORT, [EAST], [1.0]).ok


def test_crosswind_at_airspeed_is_unreachable() -> None:
    slow = dataclasses.replace(SPEC, cruise_mps=8.0)
    prof = check_sortie(slow, Wind(speed_mps=9, from_deg=0), PORT, [EAST], [1.0])
    assert not prof.ok and prof.reason is Refusal.UNREACHABLE


def test_energy_reserve_is_kept() -> None:
    far = (130.95, 32.80)  # about 23 km: beyond the range
    prof = check_sortie(SPEC, Wind(), PORT, [far], [4.0])
    assert not prof.ok and prof.reason is Refusal.ENERGY_RESERVE
    assert prof.reserve_left_wh < SPEC.battery_wh * SPEC.reserve
    ok = sortie_profile(SPEC, Wind(), PORT, [EAST], [4.0])
    assert ok.ok and ok.reserve_left_wh >= SPEC.battery_wh * SPEC.reserve


def test_no_path_is_unreachable() -> None:
    prof = check_sortie(SPEC, Wind(), PORT, [EAST], [1.0], paths=[None, [EAST, PORT]])
    assert not prof.ok and prof.reason is Refusal.UNREACHABLE


def test_windows() -> None:
    prof = sortie_profile(SPEC, Wind(), PORT, [EAST], [1.0])
    off = prof.drop_offsets_s[0]
    w = TimeWindow(earliest=36000, latest=36600)
    assert check_sortie(SPEC, Wind(), PORT, [EAST], [1.0], windows=[w]).ok
    late = check_sortie(SPEC, Wind(), PORT, [EAST], [1.0], windows=[w], takeoff_s=36600)
    assert not late.ok and late.reason is Refusal.WINDOW
    assert check_sortie(SPEC, Wind(), PORT, [EAST], [1.0], windows=[w],
                        takeoff_s=math.ceil(36000 - off)).ok


def test_endurance_matches_the_typical_drone() -> None:
    # scenarios: 20-30 minutes with a 20 % reserve
    assert 20 * 60 <= endurance_s(SPEC, 5.0) <= 30 * 60
    assert endurance_s(SPEC, 0.0) > endurance_s(SPEC, 5.0)


def test_flight_track_has_altitudes() -> None:
    track = flight_track(SPEC, [[PORT, EAST], [EAST, PORT]])
    assert track[0][2] == 0 and track[1][2] == SPEC.cruise_alt_m
    assert (EAST[0], EAST[1], SPEC.drop_alt_m) in track
    assert track[-1] == (PORT[0], PORT[1], 0.0)


def test_bad_spec_names_the_field() -> None:
    with pytest.raises(ProblemError, match="reserve"):
        DroneSpec(reserve=1.5)
    with pytest.raises(ProblemError, match=r"wind\.speed_mps"):
        Wind(speed_mps=-1)
