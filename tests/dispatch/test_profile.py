"""Service profiles: the example loads, and every bad value is one line naming table.key."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import pytest

from dispatch.errors import ProfileError
from dispatch.profile import ServiceProfile, load_profile

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "profiles" / "kumamoto.toml"

#: A small profile around (130.70-130.74, 32.80-32.82): zones "a" (west) and "b" (east),
#: a hospital outside them, three boarding points, a one-trip GTFS feed.
BASE = """
[service]
name = "test service"
default_class = "general"

[area]
[[area.zones]]
name = "a"
ring = [[130.70, 32.80], [130.72, 32.80], [130.72, 32.82], [130.70, 32.82]]
[[area.zones]]
name = "b"
ring = [[130.72, 32.80], [130.74, 32.80], [130.74, 32.82], [130.72, 32.82]]
[[area.destinations]]
name = "hospital"
lon = 130.76
lat = 32.81
radius_m = 100

[boarding]
points = "points.csv"
snap_m = 30
boarding_min = 1
wheelchair_boarding_min = 5

[od]
[[od.forbidden]]
from = "a"
to = "b"

[od.fixed_route]
feeds = ["feed.gtfs.zip"]
max_walk_m = 300
max_wait_min = 15
walk_speed_mps = 1.0

[calendar]
days = ["mon", "tue", "wed", "thu", "fri"]
hours = "08:00-17:00"
holidays = "closed"
closures = ["12-29..01-03"]

[booking]
min_notice_min = 30
max_days_ahead = 7

[classes.general]
label = "一般"
max_wait_min = 20
max_companions = 2

[classes.senior]
fare_discount_pct = 30
max_ride_min = 25

[classes.disability]
fare_discount_pct = 50
door_to_door = true
boarding_min = 3
max_companions = 1
companion_discount_pct = 50

[classes.licence_returned]
fare_discount_pct = 50

[classes.exempt]
door_to_door = true
fixed_route_exempt = true

[classes.child]
fare_discount_pct = 50

[classes.free]
fare_jpy = 0

[classes.closed]
allowed = false

[classes.registered]
needs_member = true

[fares]
kind = "zone"
same_zone_jpy = 300
cross_zone_jpy = 500
day_pass_jpy = 800

[costs]
per_vehicle_hour_jpy = 2500
per_km_jpy = 35
per_vehicle_day_jpy = 6000
"""

#: Boarding points: P1 and P2 in zone a, P3 in zone b.
POINTS = [("P1", "point one", 130.705, 32.805), ("P2", "point two", 130.715, 32.815),
          ("P3", "point three", 130.725, 32.805)]

#: One weekday trip: S1 (at P1) 09:00 -> S2 (at P2) 09:20, feed valid 2026-2027.
GTFS = {
    "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\n"
                  "x,Test Bus,https://example.org,Asia/Tokyo\n",
    "stops.txt": "stop_id,stop_name,stop_lat,stop_lon\n"
                 "S1,Stop One,32.805,130.705\nS2,Stop Two,32.815,130.715\n",
    "routes.txt": "route_id,agency_id,route_short_name,route_long_name,route_type\n"
                  "R1,x,1,Line One,3\n",
    "trips.txt": "route_id,service_id,trip_id\nR1,WK,T1\n",
    "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
                      "T1,09:00:00,09:00:00,S1,1\nT1,09:20:00,09:20:00,S2,2\n",
    "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
                    "start_date,end_date\nWK,1,1,1,1,1,0,0,20260101,20271231\n",
}


def write_profile(folder: Path, text: str = BASE, replace: dict[str, str] | None = None) -> Path:
    """Write the test profile (``replace`` maps exact substrings to new text) and its
    points CSV and GTFS feed into ``folder``; return the TOML path."""
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    with (folder / "points.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "name", "lon", "lat"])
        w.writerows(POINTS)
    with zipfile.ZipFile(folder / "feed.gtfs.zip", "w") as zf:
        for name, body in GTFS.items():
            zf.writestr(name, body)
    path = folder / "service.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(folder: Path, replace: dict[str, str] | None = None) -> ServiceProfile:
    """Load the test profile with ``replace`` applied."""
    return load_profile(write_profile(folder, replace=replace))


def test_example_profile_loads() -> None:
    p = load_profile(EXAMPLE)
    assert [z.name for z in p.area.zones] == ["north", "east"]
    assert {d.name for d in p.area.destinations} >= {"熊本大学病院", "熊本駅前"}
    assert set(p.classes) == {"general", "senior", "disability", "licence_returned", "child"}
    assert p.classes["disability"].door_to_door
    assert p.od.is_forbidden("north", "east") and p.od.is_forbidden("east", "north")
    assert not p.od.is_forbidden("north", "outside")
    assert p.od.fixed_route is not None and len(p.od.fixed_route.feeds) == 5
    # GTFS stops in the area plus the 20 hospitals of the CSV
    hospitals = [b for b in p.boarding.points if b.id.startswith("H")]
    assert len(hospitals) == 20 and len(p.boarding.points) > 100
    assert p.service_calendar().hours == (8 * 3600, 17 * 3600)
    assert p.fares.kind == "zone" and p.fares.day_pass_jpy == 800


def test_small_profile_values(tmp_path: Path) -> None:
    p = load(tmp_path)
    assert p.area.zone_of(130.71, 32.81) == "a"
    assert p.area.zone_of(130.73, 32.81) == "b"
    assert p.area.zone_of(130.75, 32.81) is None
    assert p.boarding.boarding_s == 60 and p.boarding.wheelchair_boarding_s == 300
    assert p.classes["general"].max_wait_s == 20 * 60
    assert p.classes["senior"].max_ride_s == 25 * 60
    assert p.booking.min_notice_s == 30 * 60 and p.booking.day_before_by_s is None
    assert p.rider_class(None) is p.classes["general"]
    assert p.rider_class("nobody") is None


BAD = [
    ({'kind = "zone"': 'kind = "taxi"'}, "[fares] kind: must be one of flat, zone, distance"),
    ({"fare_discount_pct = 30": "fare_discount_pct = 130"},
     "[classes.senior] fare_discount_pct: must be between 0 and 100"),
    ({"max_wait_min = 20": 'max_wait_min = "twenty"'},
     "[classes.general] max_wait_min: must be a number"),
    ({"min_notice_min = 30": "min_notice_min = 30\nday_before_by = \"25:00\""},
     "[booking] day_before_by: must be a time \"HH:MM\""),
    ({"max_days_ahead = 7": "max_days_ahead = -1"}, "[booking] max_days_ahead: must be at least 0"),
    ({'to = "b"': 'to = "c"'}, "[od.forbidden[0]] to: unknown zone 'c'"),
    ({"max_walk_m = 300": "max_walk_m = 300\nmax_walkm = 3"},
     "[od.fixed_route] max_walkm: unknown key"),
    ({'feeds = ["feed.gtfs.zip"]': 'feeds = ["missing.zip"]'},
     "[od.fixed_route] feeds[0]: file not found"),
    ({'points = "points.csv"': 'points = "nowhere.csv"'}, "[boarding] points: file not found"),
    ({'default_class = "general"': 'default_class = "vip"'},
     "[service] default_class: names no class"),
    ({"ring = [[130.70, 32.80], [130.72, 32.80], [130.72, 32.82], [130.70, 32.82]]":
      "ring = [[130.70, 32.80], [130.72, 32.80]]"},
     "[area.zones[0]] ring: must be a list of at least 3 [lon, lat] pairs"),
    ({"radius_m = 100": "radius_m = -5"},
     "[area.destinations[0]] radius_m: must be at least 0"),
    ({"same_zone_jpy = 300\n": ""}, "[fares] same_zone_jpy: is required for kind = 'zone'"),
    ({"[classes.free]\nfare_jpy = 0": "[classes.free]\nfare_jpy = 0\nfare_discount_pct = 5"},
     "[classes.free] fare_jpy: give fare_jpy or fare_discount_pct, not both"),
    ({'hours = "08:00-17:00"': 'hours = "17:00-08:00"'}, "calendar"),
]


@pytest.mark.parametrize(("replace", "message"), BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_bad_values_name_file_table_and_key(tmp_path: Path, replace: dict[str, str],
                                            message: str) -> None:
    with pytest.raises(ProfileError) as info:
        load(tmp_path, replace)
    text = str(info.value)
    assert message in text
    assert str(tmp_path / "service.toml") in text
    assert "\n" not in text


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="profile file not found"):
        load_profile(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[service\nname=1", encoding="utf-8")
    with pytest.raises(ProfileError, match="not a TOML file"):
        load_profile(bad)


# ------------------------------------------------------------------------------ the CLI
def _cli(*args: str | Path) -> tuple[int, str, str]:
    import typer
    from typer.testing import CliRunner

    from api.commands.simulate import register

    app = typer.Typer()
    register(app)
    res = CliRunner().invoke(app, [str(a) for a in args])
    return res.exit_code, res.stdout, res.stderr


def test_cli_refuses_a_bad_profile_up_front(tmp_path: Path) -> None:
    path = write_profile(tmp_path, replace={'kind = "zone"': 'kind = "taxi"'})
    code, _, err = _cli("simulate", "--profile", path, "--out", tmp_path / "out")
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: --profile {path}: [fares] kind: must be one of flat, zone, distance, "
        "got 'taxi'"]
    code, _, err = _cli("demo", "--profile", EXAMPLE, "--date", "2026-02-30")
    assert code == 2 and err.strip() == "error: --date expects YYYY-MM-DD, got '2026-02-30'"
    code, _, err = _cli("simulate", "--date", "2026-12-08")
    assert code == 2 and "--date needs --profile" in err


@pytest.mark.slow
def test_cli_simulates_a_day_under_the_example_profile(tmp_path: Path) -> None:
    import json

    out = tmp_path / "out"
    code, stdout, err = _cli("simulate", "--profile", EXAMPLE, "--date", "2026-12-08",
                             "--requests", "30", "--deliveries", "0", "--vehicles", "2",
                             "--out", out)
    assert code == 0, err
    assert "farebox ratio" in stdout and "rejected by reason" in stdout
    assert "65+ (the census mesh's 65+ share)" in err
    k = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    assert k["operating_cost_jpy"] > 0 and k["fare_revenue_jpy"] >= 0
    assert sum(k["requests_by_class"].values()) == k["requests"] == 30
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["inputs"]["service_date"] == "2026-12-08"
