"""Every bad input to ``hakobu solve``, ``solve-instance`` and ``region info`` gets one line.

Each case runs the real ``hakobu`` application (``api.cli.app``) on one bad input and
asserts a non-zero exit, exactly one line of output naming the option, field or file,
and no traceback. The bad files are made from the repository's own data: the built-in
Kumamoto files, ``examples/problem.json`` and ``tests/data/instances``. Inputs that only
do not belong together are warned about in one line while the run goes on.
"""

from __future__ import annotations

import copy
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.inputs import check_region_files
from maps.region import DEFAULT_DATA_DIR

ROOT = Path(__file__).parents[2]
DATA = ROOT / "tests" / "data" / "instances"
EXAMPLE = ROOT / "examples" / "problem.json"
KUMAMOTO = DEFAULT_DATA_DIR
OSM = KUMAMOTO / "kumamoto_chuo_highways_2023-01.osm.bz2"
HOSPITALS = KUMAMOTO / "kumamoto_city_hospitals.geojson"
AIRPORT = KUMAMOTO / "kumamoto_airport_C28.geojson"
MESH = KUMAMOTO / "tblT001101H4930.txt"
FEED = KUMAMOTO / "kumamotodentetsu.gtfs.zip"


def _example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return data


def _edited(edit: Callable[[dict[str, Any]], object]) -> Callable[[Path], Path]:
    """A maker of a copy of the example problem with one edit."""

    def make(tmp: Path) -> Path:
        data = copy.deepcopy(_example())
        edit(data)
        path = tmp / "problem.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        return path

    return make


def _text(name: str, content: str | bytes) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return make


def _zip_without_stops(tmp: Path) -> Path:
    path = tmp / "feed.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("agency.txt", "agency_id,agency_name\n1,x\n")
    return path


def _zip_without_coordinates(tmp: Path) -> Path:
    # a real feed whose stops.txt lost its coordinate columns
    path = tmp / "feed.zip"
    with zipfile.ZipFile(FEED) as src, zipfile.ZipFile(path, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name.endswith("stops.txt"):
                rows = data.decode("utf-8-sig").splitlines()
                head = rows[0].split(",")
                keep = [i for i, c in enumerate(head) if c not in ("stop_lat", "stop_lon")]
                data = "\n".join(",".join(r.split(",")[i] for i in keep)
                                  for r in rows).encode()
            dst.writestr(name, data)
    return path


def _points(tmp: Path) -> Path:
    return HOSPITALS


def _polygons(tmp: Path) -> Path:
    return AIRPORT


def _example_path(tmp: Path) -> Path:
    path = tmp / "problem-in.json"  # a copy: a broken check must not overwrite the example
    path.write_bytes(EXAMPLE.read_bytes())
    return path


def _instance(name: str) -> Callable[[Path], Path]:
    return lambda tmp: DATA / name


def _cordeau_edit(line: int, field: int, value: str) -> Callable[[Path], Path]:
    """A copy of a2-16.txt with one number of one line replaced."""

    def make(tmp: Path) -> Path:
        lines = (DATA / "a2-16.txt").read_text(encoding="utf-8").splitlines()
        fields = lines[line].split()
        fields[field] = value
        lines[line] = " ".join(fields)
        path = tmp / "a2-16.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return make


def _folder(tmp: Path) -> Path:
    return tmp


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], object]:
    def edit(data: dict[str, Any]) -> None:
        obj = data
        for key in path[:-1]:
            obj = obj[key]
        obj[path[-1]] = value

    return edit


def _unreachable_matrix_entry(data: dict[str, Any]) -> None:
    data["durations"]["car"][0][1] = 10**20


def _duplicate_request(data: dict[str, Any]) -> None:
    data["requests"].append(copy.deepcopy(data["requests"][0]))


def _duplicate_vehicle(data: dict[str, Any]) -> None:
    data["vehicles"].append(copy.deepcopy(data["vehicles"][0]))


SOLVE = ["solve", "{file}", "-o", "{tmp}/plan.json", "--time-limit", "1"]
INSTANCE = ["solve-instance", "{file}", "--format", "{fmt}", "--time-limit", "1"]

# (case id, maker of the input file or None, arguments, text the one line must contain)
CASES: list[tuple[str, Callable[[Path], Path] | None, list[str], str]] = [
    # --- solve-instance: numbers, formats, files
    ("instance-time-limit-0", _instance("a2-16.txt"),
     ["solve-instance", "{file}", "--format", "cordeau", "--time-limit", "0"], "--time-limit"),
    ("instance-time-limit-negative", _instance("a2-16.txt"),
     ["solve-instance", "{file}", "--format", "cordeau", "--time-limit", "-2"], "--time-limit"),
    ("instance-time-limit-nan", _instance("a2-16.txt"),
     ["solve-instance", "{file}", "--format", "cordeau", "--time-limit", "nan"], "--time-limit"),
    ("instance-time-limit-huge", _instance("a2-16.txt"),
     ["solve-instance", "{file}", "--format", "cordeau", "--time-limit", "1e9"], "--time-limit"),
    ("instance-time-limit-not-a-number", _instance("a2-16.txt"),
     ["solve-instance", "{file}", "--format", "cordeau", "--time-limit", "soon"],
     "--time-limit"),
    ("instance-seed-negative", _instance("a2-16.txt"),
     ["solve-instance", "{file}", "--format", "cordeau", "--time-limit", "1", "--seed", "-1"],
     "--seed"),
    ("instance-format-missing", _instance("a2-16.txt"),
     ["solve-instance", "{file}", "--time-limit", "1"], "--format"),
    ("instance-format-unknown", _instance("a2-16.txt"),
     ["solve-instance", "{file}", "--format", "tsplib", "--time-limit", "1"], "--format"),
    ("instance-missing-file", None,
     ["solve-instance", "{tmp}/nope.txt", "--format", "cordeau", "--time-limit", "1"],
     "nope.txt: no such file"),
    ("instance-folder", _folder, [*INSTANCE[:3], "cordeau", *INSTANCE[4:]], "not a file"),
    ("instance-empty-file", _text("empty.txt", ""),
     [*INSTANCE[:3], "cordeau", *INSTANCE[4:]], "empty.txt"),
    ("cordeau-read-as-vrplib", _instance("a2-16.txt"),
     [*INSTANCE[:3], "vrplib", *INSTANCE[4:]], "--format cordeau"),
    ("cordeau-read-as-lilim", _instance("a2-16.txt"),
     [*INSTANCE[:3], "lilim", *INSTANCE[4:]], "a2-16.txt:1"),
    ("lilim-read-as-solomon", _instance("lc101.txt"),
     [*INSTANCE[:3], "solomon", *INSTANCE[4:]], "--format lilim"),
    ("solomon-read-as-cordeau", _instance("C101.txt"),
     [*INSTANCE[:3], "cordeau", *INSTANCE[4:]], "--format solomon"),
    ("vrplib-read-as-lilim", _instance("X-n101-k25.vrp"),
     [*INSTANCE[:3], "lilim", *INSTANCE[4:]], "X-n101-k25.vrp"),
    ("binary-read-as-cordeau", _text("blob.txt", bytes(range(256)) * 4),
     [*INSTANCE[:3], "cordeau", *INSTANCE[4:]], "blob.txt: not a text file"),
    ("cordeau-nan-coordinate", _cordeau_edit(1, 1, "nan"),
     [*INSTANCE[:3], "cordeau", *INSTANCE[4:]], "a2-16.txt:2: nan is not a finite number"),
    ("cordeau-huge-coordinate", _cordeau_edit(1, 2, "1e300"),
     [*INSTANCE[:3], "cordeau", *INSTANCE[4:]], "a2-16.txt:2: 1e300"),
    ("cordeau-no-vehicles", _cordeau_edit(0, 0, "0"),
     [*INSTANCE[:3], "cordeau", *INSTANCE[4:]], "a2-16.txt: vehicles"),
    ("cordeau-negative-capacity", _cordeau_edit(0, 3, "-3"),
     [*INSTANCE[:3], "cordeau", *INSTANCE[4:]], "a2-16.txt: vehicle type bus.capacity"),
    # --- solve: numbers and files
    ("solve-time-limit-0", _example_path,
     ["solve", "{file}", "-o", "{tmp}/plan.json", "--time-limit", "0"], "--time-limit"),
    ("solve-seed-negative", _example_path, [*SOLVE, "--seed", "-5"], "--seed"),
    ("solve-missing-file", None, ["solve", "{tmp}/nope.json", "-o", "{tmp}/plan.json"],
     "nope.json: no such file"),
    ("solve-output-missing", _example_path, ["solve", "{file}"], "--output"),
    ("solve-output-is-input", _example_path, ["solve", "{file}", "-o", "{file}"],
     "would overwrite the input"),
    ("solve-output-folder-missing", _example_path,
     ["solve", "{file}", "-o", "{tmp}/no/such/folder/plan.json"], "does not exist"),
    ("solve-output-under-a-file", _example_path, ["solve", "{file}", "-o", "{file}/plan.json"],
     "is a file, not a folder"),
    ("solve-output-is-folder", _example_path, ["solve", "{file}", "-o", "{tmp}"], "is a folder"),
    ("solve-osm-missing", _example_path, [*SOLVE, "--osm", "{tmp}/nope.osm"], "--osm"),
    ("solve-osm-not-osm", _example_path, [*SOLVE, "--osm", str(MESH)], "--osm"),
    # --- solve: pathological JSON
    ("json-not-json", _text("problem.json", '{"dimensions": ["seats"],\n "locations": [}'),
     SOLVE, "problem.json:2: not valid JSON"),
    ("json-not-utf8", _text("problem.json", b"\xff\xfe{}"), SOLVE, "not a UTF-8"),
    ("json-empty-file", _text("problem.json", ""), SOLVE, "empty"),
    ("json-top-level-list", _text("problem.json", "[1, 2]"), SOLVE, "problem: must be an object"),
    ("json-missing-field", _text("problem.json", "{}"), SOLVE, "dimensions: is missing"),
    ("json-deeply-nested", _text("problem.json", "[" * 100_000 + "]" * 100_000), SOLVE,
     "problem.json"),
    ("json-negative", _edited(_set(["requests", 0, "max_ride_s"], -5)), SOLVE,
     "requests[0].max_ride_s"),
    ("json-nan", _edited(_set(["locations", 0, "lon"], float("nan"))), SOLVE,
     "locations[0].lon"),
    ("json-huge-window", _edited(_set(["vehicles", 0, "shift", "latest"], 10**30)), SOLVE,
     "vehicles[0].shift.latest"),
    ("json-huge-matrix", _edited(_unreachable_matrix_entry), SOLVE, "durations.car[0][1]"),
    ("json-speed-factor-zero", _edited(_set(["vehicle_types", 0, "speed_factor"], 0)), SOLVE,
     "vehicle_types[0].speed_factor"),
    ("json-duplicate-request", _edited(_duplicate_request), SOLVE, "requests[5].id"),
    ("json-duplicate-vehicle", _edited(_duplicate_vehicle), SOLVE, "vehicles[2].id"),
    ("json-unknown-location", _edited(_set(["requests", 0, "pickup"], "atlantis")), SOLVE,
     "requests[0].pickup"),
    ("json-unknown-vehicle-type", _edited(_set(["vehicles", 0, "type"], "bus")), SOLVE,
     "vehicles[0].type"),
    ("json-unknown-return", _edited(_set(["requests", 0, "return_of"], "nobody")), SOLVE,
     "requests[0].return_of"),
    ("json-return-before-outbound",
     _edited(_set(["requests", 2, "pickup_window"], {"earliest": 0, "latest": 1000})), SOLVE,
     "requests[2].pickup_window.latest"),
    ("json-no-vehicles", _edited(_set(["vehicles"], [])), SOLVE, "vehicles"),
    # --- region info: files of the wrong kind, checked before the road build
    ("region-osm-missing", None, ["region", "info", "--osm", "{tmp}/nope.osm"], "--osm"),
    ("region-osm-not-xml", _text("area.osm", "not xml"), ["region", "info", "--osm", "{file}"],
     "--osm"),
    ("region-osm-pbf-not-pbf", _text("area.osm.pbf", "not pbf"),
     ["region", "info", "--osm", "{file}"], "--osm"),
    ("region-osm-wrong-suffix", _text("area.csv", "a,b"), ["region", "info", "--osm", "{file}"],
     "--osm"),
    ("region-no-fly-points", _points,
     ["region", "info", "--osm", str(OSM), "--no-fly", "{file}"], "--no-fly"),
    ("region-pois-polygons", _polygons,
     ["region", "info", "--osm", str(OSM), "--pois", "{file}"], "--pois"),
    ("region-pois-not-json", _text("pois.geojson", "{ not json"),
     ["region", "info", "--osm", str(OSM), "--pois", "{file}"], "--pois"),
    ("region-population-not-mesh", _text("mesh.csv", "a,b\n1,2\n"),
     ["region", "info", "--osm", str(OSM), "--population", "{file}"], "--population"),
    ("region-population-geojson", _points,
     ["region", "info", "--osm", str(OSM), "--population", "{file}"], "--population"),
    ("region-gtfs-not-zip", _text("feed.zip", "hello"),
     ["region", "info", "--osm", str(OSM), "--gtfs", "{file}"], "--gtfs"),
    ("region-gtfs-no-stops", _zip_without_stops,
     ["region", "info", "--osm", str(OSM), "--gtfs", "{file}"], "--gtfs"),
    ("region-gtfs-no-coordinates", _zip_without_coordinates,
     ["region", "info", "--osm", str(OSM), "--gtfs", "{file}"], "stop_lat, stop_lon"),
    ("region-files-without-osm", _points, ["region", "info", "--pois", "{file}"], "--osm"),
    ("region-cache-dir-is-a-file", _points, ["region", "info", "--cache-dir", "{file}"],
     "--cache-dir"),
    # --- the command line itself
    ("unknown-command", None, ["route"], "route"),
    ("option-without-value", None, ["region", "info", "--osm"], "--osm"),
]


@pytest.mark.parametrize(("make", "args", "expect"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_gets_one_line(
    tmp_path: Path, make: Callable[[Path], Path] | None, args: list[str], expect: str
) -> None:
    file = make(tmp_path) if make is not None else tmp_path / "unused"
    argv = [a.replace("{file}", str(file)).replace("{tmp}", str(tmp_path)) for a in args]
    before = file.read_bytes() if file.is_file() else None
    res = CliRunner().invoke(app, argv)
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code != 0, res.output
    assert "Traceback" not in res.output
    assert len(lines) == 1, res.output
    assert lines[0].startswith("error: ") and expect in lines[0], lines[0]
    assert (file.read_bytes() if file.is_file() else None) == before  # input left alone
    assert not (tmp_path / "plan.json").exists()


# --------------------------------------------------------------- warnings: the run goes on


def _tiny_osm(lon0: float, lat0: float) -> str:
    """A 3 x 3 grid of two-way residential streets about 100 m apart."""
    nodes = [f'<node id="{1 + i * 3 + j}" version="1" lat="{lat0 + i * 0.001:.6f}" '
             f'lon="{lon0 + j * 0.001:.6f}"/>' for i in range(3) for j in range(3)]
    pairs = [(1 + i * 3 + j, 2 + i * 3 + j) for i in range(3) for j in range(2)]
    pairs += [(1 + i * 3 + j, 4 + i * 3 + j) for i in range(2) for j in range(3)]
    ways = [f'<way id="{100 + k}" version="1"><nd ref="{a}"/><nd ref="{b}"/>'
            '<tag k="highway" v="residential"/></way>' for k, (a, b) in enumerate(pairs)]
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n'
            + "\n".join(nodes + ways) + "\n</osm>\n")


def test_region_files_outside_the_map_are_warned_about(tmp_path: Path) -> None:
    # a few Tokyo streets with Kumamoto's stops, hospitals and census mesh
    osm = tmp_path / "tokyo.osm"
    osm.write_text(_tiny_osm(139.70, 35.68), encoding="utf-8")
    res = CliRunner().invoke(app, [
        "region", "info", "--osm", str(osm), "--gtfs", str(FEED), "--pois", str(HOSPITALS),
        "--population", str(MESH), "--json", "--cache-dir", str(tmp_path / "cache")])
    assert res.exit_code == 0, res.output
    warnings = [ln for ln in res.stderr.splitlines() if ln.startswith("warning: ")]
    assert len(warnings) == 3, res.stderr
    gtfs, pois, population = warnings
    assert gtfs.startswith(f"warning: --gtfs {FEED}: 18 of 18 stops are outside the map")
    assert pois.startswith(f"warning: --pois {HOSPITALS}: 90 of 90 points are outside")
    assert population.startswith(f"warning: --population {MESH}: no mesh cell touches")
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["stops_in_area"] == 0 and summary["population"] == 0


def test_files_inside_the_map_raise_no_warning(tmp_path: Path) -> None:
    # the same tiny map placed in central Kumamoto: the mesh touches it, no warning for it
    osm = tmp_path / "kumamoto.osm"
    osm.write_text(_tiny_osm(130.7060, 32.8030), encoding="utf-8")
    res = CliRunner().invoke(app, [
        "region", "info", "--osm", str(osm), "--population", str(MESH), "--json",
        "--cache-dir", str(tmp_path / "cache")])
    assert res.exit_code == 0, res.output
    assert not [ln for ln in res.stderr.splitlines() if ln.startswith("warning: ")]
    assert json.loads(res.stdout.strip().splitlines()[-1])["population"] > 0


def test_osm_ignored_when_the_json_has_matrices(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    res = CliRunner().invoke(app, ["solve", str(EXAMPLE), "-o", str(out), "--time-limit", "1",
                                   "--osm", str(OSM)])
    assert res.exit_code == 0, res.output
    warnings = [ln for ln in res.stderr.splitlines() if ln.startswith("warning: ")]
    assert warnings == [f"warning: --osm {OSM} is ignored: the problem JSON has its own "
                        "durations/distances"]
    assert json.loads(out.read_text(encoding="utf-8"))["summary"]["feasible"] is True


def test_a_location_without_a_path_is_reported_unreachable(tmp_path: Path) -> None:
    data = _example()
    k = next(i for i, loc in enumerate(data["locations"]) if loc["id"] == "home-ezu-parktown")
    for key in ("durations", "distances"):
        for i, row in enumerate(data[key]["car"]):
            if i != k:
                row[k] = None
                data[key]["car"][k][i] = None
    problem = tmp_path / "cut-off.json"
    problem.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "plan.json"
    res = CliRunner().invoke(app, ["solve", str(problem), "-o", str(out), "--time-limit", "1"])
    assert res.exit_code == 0, res.output
    assert "warning: 1 of 5 requests and jobs have a location no vehicle can reach " \
           "(rx-delivery)" in res.stderr
    reasons = {u["id"]: u["reason"] for u in json.loads(out.read_text())["unassigned"]}
    assert reasons["rx-delivery"] == "unreachable: no path from city-hospital to " \
                                     "home-ezu-parktown"


def test_output_dash_writes_the_plan_to_stdout(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["solve", str(EXAMPLE), "-o", "-", "--time-limit", "1"])
    assert res.exit_code == 0, res.output
    plan = json.loads(res.stdout)
    assert plan["summary"]["feasible"] is True
    assert res.stderr.strip().endswith("-> stdout")


def test_real_files_pass_the_checks() -> None:
    # no false alarms: every built-in file passes the check of its own option
    check_region_files(OSM, gtfs=sorted(KUMAMOTO.glob("*.gtfs.zip")), population=MESH,
                       pois=[HOSPITALS],
                       no_fly=[KUMAMOTO / "r02_did_43_kumamoto_clipped.geojson", AIRPORT])


def test_shared_data_files_pass_the_checks() -> None:
    # the PBF, plain OSM XML and other feeds of ../shared/data, when it is there
    shared = ROOT.parent / "shared" / "data"
    if not shared.is_dir():
        pytest.skip("../shared/data is not available")
    osm = sorted([*shared.rglob("*.osm"), *shared.rglob("*.osm.pbf"), *shared.rglob("*.osm.bz2")])
    assert any(p.name.endswith(".osm.pbf") for p in osm)
    for path in osm:
        check_region_files(path, gtfs=sorted(shared.rglob("*.zip")))
