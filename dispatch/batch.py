"""Batches of coverage studies and fleet scenarios over many regions, on Dask or locally.

A batch file (TOML) lists regions and the scenarios to run on each::

    [[region]]
    name = "kumamoto"                 # no osm: the built-in Kumamoto region
    [[region]]
    name = "village"
    osm = "village.osm.pbf"           # a path (relative to the batch file) or a URL
    gtfs = ["bus.zip"]
    population = "tblT001101H5339.txt"
    pois = ["clinics.geojson"]
    no_fly = ["did.geojson"]           # DID, airport, geofence layers for the drones

    [scenarios]
    fleet = [0, 2, 4]
    drones = [0, 4]
    seeds = [0]

    [options]                         # optional, for every task
    stop_m = 500                      # any field of dispatch.coverage.Thresholds
    hospital_target_min = 30
    scenario_config = "scenarios.toml"   # as hakobu coverage --scenario-config

Every region gets one access task (the coverage study, its report written to
``OUT/regions/<name>/``) and one task per fleet x drones x seed (the access study again,
then :func:`dispatch.coverage_scenarios.run_scenarios` for that one scenario). A task is
a plain picklable :class:`Task`; :func:`run_task` is the one function that runs it, in
this process or on a Dask worker, so a local run and a cluster run give the same rows for
the same seed (the simulations and drone plans are bounded by iterations, not time). A
task's result is stored under ``OUT/tasks/<key>.json`` (``key`` hashes the region's input
files, the scenario, the thresholds, the scenario config and the task version), so a
re-run skips what is finished; a task that fails is stored with its error (one line) and
does not stop the others (it is tried again on the next run).

Workers read the inputs from the paths or URLs they are given (``fsspec`` URLs are copied
once into the worker's region cache folder) and keep loaded regions in memory between
tasks, besides the on-disk region cache of :mod:`maps.region`. What is shipped to a
worker is the task (region file names, thresholds, config: under a kilobyte) and the
row it returns (a few hundred bytes); the region's data never crosses the network.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import tomllib
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dispatch.coverage import CoverageError, Thresholds
from dispatch.coverage_scenarios import ScenarioConfig
from maps.files import RegionFiles

if TYPE_CHECKING:
    from maps.region import Region

#: Bump when a task's results change for the same inputs.
TASK_VERSION = "1"
_URL_SCHEMES = ("http://", "https://", "s3://", "gs://", "file://", "memory://")


class BatchError(ValueError):
    """A batch file that cannot be used; the message is one line naming the field."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RegionInput:
    """One region's files (paths or URLs); ``osm=None`` is the built-in region."""

    name: str
    osm: str | None = None
    gtfs: tuple[str, ...] = ()
    population: str | None = None
    pois: tuple[str, ...] = ()
    no_fly: tuple[str, ...] = ()

    def files(self) -> list[str]:
        """Every input file of the region."""
        return [f for f in (self.osm, *self.gtfs, self.population, *self.pois, *self.no_fly)
                if f]


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """``fleet`` on-demand vehicles and ``drones`` drones, demand drawn with ``seed``."""

    fleet: int
    drones: int
    seed: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    """One unit of work: the access study of a region (``scenario=None``) or a scenario."""

    region: RegionInput
    scenario: Scenario | None
    thresholds: Thresholds = field(default_factory=Thresholds)
    config: ScenarioConfig = field(default_factory=ScenarioConfig)
    fingerprint: str = ""

    @property
    def kind(self) -> str:
        """``access`` or ``scenario``."""
        return "access" if self.scenario is None else "scenario"

    @property
    def label(self) -> str:
        """A short human label (``kumamoto/fleet=4,drones=0,seed=0``)."""
        s = self.scenario
        what = "access" if s is None else f"fleet={s.fleet},drones={s.drones},seed={s.seed}"
        return f"{self.region.name}/{what}"

    def key(self) -> str:
        """The hash of everything the result depends on."""
        doc = {"region": asdict(self.region), "scenario": asdict(self.scenario)
               if self.scenario else None, "thresholds": asdict(self.thresholds),
               "config": asdict(self.config) if self.scenario else None,
               "inputs": self.fingerprint, "version": TASK_VERSION}
        return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()
                              ).hexdigest()[:20]


@dataclass(frozen=True, slots=True, kw_only=True)
class Batch:
    """Regions, scenarios and options read from a batch file."""

    regions: tuple[RegionInput, ...]
    fleet: tuple[int, ...] = (0,)
    drones: tuple[int, ...] = (0,)
    seeds: tuple[int, ...] = (0,)
    thresholds: Thresholds = field(default_factory=Thresholds)
    config: ScenarioConfig = field(default_factory=ScenarioConfig)

    def tasks(self) -> list[Task]:
        """Every task: per region, the access study, then fleet x drones x seeds."""
        out: list[Task] = []
        th, cfg = self.thresholds, self.config
        for r in self.regions:
            fp = fingerprint(r)
            out.append(Task(region=r, scenario=None, fingerprint=fp, thresholds=th, config=cfg))
            out += [Task(region=r, scenario=Scenario(fleet=f, drones=d, seed=s),
                         fingerprint=fp, thresholds=th, config=cfg)
                    for f in self.fleet for d in self.drones for s in self.seeds]
        return out


# ----------------------------------------------------------------------------- reading
def _is_url(text: str) -> bool:
    return text.startswith(_URL_SCHEMES)


def _path(base: Path, value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise BatchError(f"{where}: must be a path or URL string")
    if _is_url(value):
        return value
    p = Path(value)
    return str(p if p.is_absolute() else (base / p).resolve())


def _ints(value: Any, where: str) -> tuple[int, ...]:
    vals = value if isinstance(value, list) else [value]
    if not vals or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                           for v in vals):
        raise BatchError(f"{where}: must be a list of integers >= 0, got {value!r}")
    return tuple(dict.fromkeys(vals))


def _region(base: Path, k: int, table: Any) -> RegionInput:
    where = f"region[{k}]"
    if not isinstance(table, dict):
        raise BatchError(f"{where}: must be a table ([[region]])")
    unknown = sorted(set(table) - {"name", "osm", "gtfs", "population", "pois", "no_fly"})
    if unknown:
        raise BatchError(f"{where}: unknown field(s) {', '.join(unknown)}")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BatchError(f"{where}.name: must be a non-empty string")
    where = f"region {name!r}"
    lists = {}
    for key in ("gtfs", "pois", "no_fly"):
        v = table.get(key, [])
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list):
            raise BatchError(f"{where}.{key}: must be a list of paths")
        lists[key] = tuple(_path(base, x, f"{where}.{key}") for x in v)
    osm = table.get("osm")
    pop = table.get("population")
    if osm is None and (lists["gtfs"] or lists["pois"] or lists["no_fly"] or pop is not None):
        raise BatchError(f"{where}: gtfs, population, pois and no_fly need osm (without osm "
                         "the region is the built-in one)")
    return RegionInput(name=name.strip(),
                       osm=None if osm is None else _path(base, osm, f"{where}.osm"),
                       gtfs=lists["gtfs"], pois=lists["pois"], no_fly=lists["no_fly"],
                       population=None if pop is None else _path(base, pop,
                                                                 f"{where}.population"))


def read_batch(path: str | Path) -> Batch:
    """Read a batch file (see the module docstring).

    Raises
    ------
    BatchError
        A missing or unreadable file, bad TOML, or a bad field (named in the message).
    """
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BatchError(f"{p}: file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BatchError(f"{p}: not a TOML file ({' '.join(str(exc).split())})") from None
    unknown = sorted(set(data) - {"region", "scenarios", "options"})
    if unknown:
        raise BatchError(f"{p}: unknown table(s) {', '.join(unknown)}")
    tables = data.get("region")
    if not isinstance(tables, list) or not tables:
        raise BatchError(f"{p}: no [[region]] table")
    regions = tuple(_region(p.parent, k, t) for k, t in enumerate(tables))
    names = [r.name for r in regions]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise BatchError(f"{p}: region name(s) {', '.join(dup)} appear twice")
    sc = data.get("scenarios", {})
    if not isinstance(sc, dict):
        raise BatchError(f"{p}: scenarios must be a table")
    bad = sorted(set(sc) - {"fleet", "drones", "seeds"})
    if bad:
        raise BatchError(f"{p}: scenarios: unknown field(s) {', '.join(bad)}")
    opts = data.get("options", {})
    if not isinstance(opts, dict):
        raise BatchError(f"{p}: options must be a table")
    th, cfg = _options(p, dict(opts))
    return Batch(regions=regions,
                 fleet=_ints(sc.get("fleet", [0]), "scenarios.fleet"),
                 drones=_ints(sc.get("drones", [0]), "scenarios.drones"),
                 seeds=_ints(sc.get("seeds", [0]), "scenarios.seeds"), thresholds=th,
                 config=cfg)


def _options(p: Path, opts: dict[str, Any]) -> tuple[Thresholds, ScenarioConfig]:
    from dataclasses import fields

    from dispatch.coverage_scenarios import load_scenario_config

    names = {f.name for f in fields(Thresholds)}
    unknown = sorted(set(opts) - names - {"scenario_config"})
    if unknown:
        raise BatchError(f"{p}: options: unknown field(s) {', '.join(unknown)} (known: "
                         f"{', '.join(sorted(names))}, scenario_config)")
    try:
        th = Thresholds(**{k: v for k, v in opts.items() if k in names})
        cfg = ScenarioConfig()
        if "scenario_config" in opts:
            cfg = load_scenario_config(_path(p.parent, opts["scenario_config"],
                                             "options.scenario_config"))
    except CoverageError as exc:
        raise BatchError(f"{p}: options: {exc}") from None
    except TypeError as exc:
        raise BatchError(f"{p}: options: {exc}") from None
    return th, cfg


def fingerprint(region: RegionInput) -> str:
    """A hash of the region's inputs: size and modification time of local files, the URL
    itself for remote ones, the built-in data's version for the built-in region."""
    parts: list[str] = []
    if region.osm is None:
        from maps.region import _code_version

        parts.append(f"builtin:{_code_version()}")
    for f in region.files():
        if _is_url(f):
            parts.append(f)
            continue
        try:
            st = os.stat(f)
            parts.append(f"{f}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{f}:missing")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- running
_REGIONS: dict[tuple[Any, ...], Region] = {}


def _local(f: str, cache: Path) -> str:
    """Return a local path for ``f``, copying a URL into ``cache`` once."""
    if not _is_url(f):
        return f
    if f.startswith("file://"):
        return f[len("file://"):]
    import fsspec

    name = hashlib.sha256(f.encode()).hexdigest()[:16] + "-" + f.rsplit("/", 1)[-1]
    dest = cache / "inputs" / name
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(dest.suffix + ".part")
        with fsspec.open(f, "rb") as src, tmp.open("wb") as out:
            out.write(src.read())
        tmp.replace(dest)
    return str(dest)


def region_files(region: RegionInput) -> RegionFiles:
    """The region's files as local paths (URLs copied once into the region cache)."""
    from maps.region import cache_root

    if region.osm is None:
        return RegionFiles()
    cache = cache_root()
    return RegionFiles(osm=Path(_local(region.osm, cache)),
                       gtfs=tuple(Path(_local(g, cache)) for g in region.gtfs),
                       population=Path(_local(region.population, cache))
                       if region.population else None,
                       pois=tuple(Path(_local(x, cache)) for x in region.pois),
                       no_fly=tuple(Path(_local(x, cache)) for x in region.no_fly))


def load_region(region: RegionInput) -> Region:
    """Load (once per process) the region of ``region``'s files."""
    from maps.files import load_region as load

    key = (region.osm, region.gtfs, region.population, region.pois, region.no_fly,
           fingerprint(region))
    if key not in _REGIONS:
        _REGIONS[key] = load(region_files(region))
    return _REGIONS[key]


#: ``study(region, task, folder) -> row``: what a task computes (see :func:`run_task`).
Study = Callable[["Region", Task, Path], dict[str, Any]]

#: Access-study columns of a row.
ACCESS_COLUMNS = ("population_total", "population_in_gap", "share_in_gap",
                  "population_65plus_total", "population_65plus_in_gap",
                  "population_75plus_in_gap", "cells_total", "cells_in_gap",
                  "population_hospital_beyond_target", "stops_counted_in_area",
                  "stations_counted_in_area")


def coverage_study(region: Region, task: Task, folder: Path) -> dict[str, Any]:
    """The default task: the access study (report into ``folder``) or one scenario."""
    from dispatch.coverage_report import write_coverage_report
    from dispatch.coverage_scenarios import run_scenarios
    from dispatch.coverage_study import ATTRIBUTION, study_access, study_feeds

    files = region_files(task.region)
    result, sources = study_access(region, files, study_feeds(files), task.thresholds)
    s = task.scenario
    if s is None:
        write_coverage_report(folder, result, region, sources=sources,
                              attribution=ATTRIBUTION)
        row = {k: result.summary[k] for k in ACCESS_COLUMNS}
        row["map"] = str(Path("regions") / task.region.name / "coverage.png")
        return row
    sc = run_scenarios(region, result, [s.fleet], [s.drones],
                       replace(task.config, seed=s.seed))
    row = {k: v for k, v in sc.rows[0].items() if k not in ("vehicles", "drones")}
    row["ride_requests"] = sc.info["ride_requests"]
    return row


def run_task(task: Task, out: str | Path, study: Study | None = None) -> dict[str, Any]:
    """Run one task and store its result under ``out/tasks/<key>.json``; return the row.

    The row holds ``region``, ``kind``, ``fleet``, ``drones``, ``seed``, ``status``
    (``ok`` or ``error``), ``error`` (one line), ``seconds``, ``worker`` and the study's
    own columns. Never raises for a failing study: the error is the row.
    """
    folder = Path(out) / "tasks"
    folder.mkdir(parents=True, exist_ok=True)
    s = task.scenario
    row: dict[str, Any] = {"region": task.region.name, "kind": task.kind,
                           "fleet": s.fleet if s else None, "drones": s.drones if s else None,
                           "seed": s.seed if s else None, "key": task.key()}
    t0 = time.perf_counter()
    try:
        region = load_region(task.region)
        got = (study or coverage_study)(region, task, Path(out) / "regions" / task.region.name)
        row.update(status="ok", error="", **got)
    except Exception as exc:  # a failed task is a row, not a crash of the batch
        msg = " ".join(str(exc).split()) or type(exc).__name__
        row.update(status="error", error=f"{type(exc).__name__}: {msg}",
                   traceback=traceback.format_exc(limit=5))
    row["seconds"] = round(time.perf_counter() - t0, 2)
    row["worker"] = f"{os.uname().nodename}:{os.getpid()}"
    tmp = folder / f"{task.key()}.json.part"
    tmp.write_text(json.dumps(row, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(folder / f"{task.key()}.json")
    return row


def finished(out: str | Path, tasks: Sequence[Task]) -> dict[str, dict[str, Any]]:
    """The stored rows of the ``tasks`` that finished ``ok`` (by key)."""
    done: dict[str, dict[str, Any]] = {}
    for t in tasks:
        f = Path(out) / "tasks" / f"{t.key()}.json"
        if f.exists():
            try:
                row = json.loads(f.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, OSError):
                continue
            if row.get("status") == "ok":
                done[t.key()] = row
    return done


@dataclass(slots=True, kw_only=True)
class BatchRun:
    """What a batch run did: every task's row, and how many were skipped or failed."""

    rows: list[dict[str, Any]]
    skipped: int
    ran: int
    failed: int
    seconds: float
    where: str


def run_batch(
    batch: Batch, out: str | Path, *, scheduler: str | None = None, local: bool = False,
    workers: int = 2, study: Study | None = None,
    progress: Callable[[str], None] | None = None,
) -> BatchRun:
    """Run every unfinished task of ``batch`` and return all rows (stored ones included).

    ``local``: in this process, one task after the other. Otherwise on Dask: the
    scheduler at ``scheduler`` (``tcp://host:port``), or a ``LocalCluster`` of
    ``workers`` single-threaded worker processes.
    """
    say = progress or (lambda _m: None)
    tasks = batch.tasks()
    done = finished(out, tasks)
    todo = [t for t in tasks if t.key() not in done]
    say(f"{len(tasks)} tasks: {len(done)} finished before, {len(todo)} to run")
    t0 = time.perf_counter()
    rows: dict[str, dict[str, Any]] = dict(done)
    where = "local"
    if todo and local:
        for k, t in enumerate(todo, start=1):
            rows[t.key()] = run_task(t, out, study)
            say(f"[{k}/{len(todo)}] {t.label}: {rows[t.key()]['status']}")
    elif todo:
        where = _run_dask(todo, out, rows, scheduler=scheduler, workers=workers, study=study,
                          say=say)
    ordered = [rows[t.key()] for t in tasks]
    failed = sum(r["status"] != "ok" for r in ordered)
    return BatchRun(rows=ordered, skipped=len(done), ran=len(todo), failed=failed,
                    seconds=time.perf_counter() - t0, where=where)


def _run_dask(todo: Iterable[Task], out: str | Path, rows: dict[str, dict[str, Any]], *,
              scheduler: str | None, workers: int, study: Study | None,
              say: Callable[[str], None]) -> str:
    from distributed import Client, LocalCluster, as_completed

    todo = list(todo)
    cluster = None
    if scheduler is None:
        # The dashboard on a free port (its link is printed): two batches never clash.
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address="127.0.0.1:0", silence_logs=logging.WARNING)
        client = Client(cluster)
        where = f"LocalCluster of {workers} workers"
    else:
        client = Client(scheduler, timeout="10s")
        where = f"scheduler {scheduler}"
    try:
        say(f"running on {where}"
            + (f" (dashboard {client.dashboard_link})" if client.dashboard_link else ""))
        futures = {client.submit(run_task, t, str(out), study, key=f"task-{t.key()}",
                                 pure=False): t for t in todo}
        for k, fut in enumerate(as_completed(futures), start=1):
            t = futures[fut]
            rows[t.key()] = fut.result()
            say(f"[{k}/{len(todo)}] {t.label}: {rows[t.key()]['status']}")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return where
