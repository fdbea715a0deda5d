"""Dask batch (``dispatch.batch.run_batch`` on a ``LocalCluster`` of 2 workers) against the
single-process path (``run_batch(..., local=True)``), on this machine, in the same run.

Run: ``python benchmarks/scale.py [--quick] [--json PATH] [--keep] [--retries N]
[--no-profiler-variant]`` (default JSON: ``benchmarks/results/scale.json``,
``scale_quick.json`` with ``--quick``). The region entries of ``$HAKOBU_CACHE_DIR`` (the
shared region cache) are copied into a temporary cache, the built-in region is loaded from
it once before anything is timed (built there if no entry matched), and each run of part 1
gets its own copy of that warm cache: every run loads the region from the cache, and every
run starts without any drone matrix cached.

Measures, in one run:

* **Part 1, scenario sweep on the built-in Kumamoto region.** A batch file (a
  ``[[region]]`` with only ``name``) with fleet 0,2,4,8 x drones 0,4 x seeds 0,1: 16
  scenario tasks plus the access task (``--quick``: fleet 0,2 x drones 0 x seeds 0,1).
  ``run_batch`` runs it in this process (``local=True``), then on a ``LocalCluster`` of 2
  single-threaded worker processes (``workers=2``), each into a fresh output folder, with
  the warm region cache described above. Reported: wall time of each
  run and the speed-up, every row compared by ``key`` (all columns but ``seconds``,
  ``worker``, ``traceback``, ``sim_wall_s`` and ``plan_wall_s``), the tasks' own seconds
  (mean / max per kind) and the peak resident memory of this process (local run) and of
  each worker process (cluster run): ``psutil`` polled every 0.25 s, and
  ``getrusage(RUSAGE_CHILDREN)`` max RSS after the cluster closed as a cross-check.
* **Part 2, the map split into sub-regions standing in for municipalities.** The built-in
  map's bounding box (``region.bounds``) cut 2 x 2 (``--quick``: in 2, west / east). For
  each part, an OSM XML file clipped from the built-in extract with pyosmium: the ways
  whose nodes all lie in the part, the nodes they use, and the tagged nodes in the part
  (bus stops, signals...). Each sub-region gets the 5 built-in GTFS feeds, the built-in
  census mesh and hospitals (the loader clips them to the map). Batch: fleet 0,2 x drones
  0 x seeds 0 (``--quick``: fleet 0). The sub-regions are first built once here, timed,
  into a fresh cache folder; then each batch run gets its own fresh, empty
  ``HAKOBU_CACHE_DIR``, so every run builds the regions again: locally once per region,
  on the cluster once per worker that gets a task of the region (two workers that start
  the same region at the same time both build it). Reported as part 1, plus per
  sub-region ``population_total`` / ``population_in_gap``, and their sum against the
  whole region's ``population_total`` (with the census counted by area share inside the
  quadrants and inside the sub-regions' own bounding boxes, to show where a difference
  comes from).

Both parts also run the cluster once more with Dask's statistical profiler off
(``distributed.worker.profile.enabled = False``; ``--no-profiler-variant`` skips it), to
see what the profiler thread costs the tasks; its rows are compared with the local ones too.

Timings are of one run each on a 2-core machine that may be shared with other work. Before
each run the script waits (up to 90 s) until other work uses under 0.3 cores; during the
run it measures the machine's busy CPU and its own processes' CPU (psutil), and a run
during which other work took over 0.25 cores is repeated (``--retries``, default once; the
discarded attempts stay in the JSON). A cluster run includes starting and closing the
LocalCluster and the workers' imports (both measured on their own too). Exit status 1 if
any row differs between a cluster run and the local run, or any task failed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Run as ``python benchmarks/scale.py`` this folder comes first on sys.path, and its
# ``dispatch.py`` would shadow the ``dispatch`` package (the Dask workers, started with
# ``spawn``, get this sys.path too).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import dispatch.batch as batch_mod
from dispatch.batch import Batch, BatchRun, read_batch, run_batch
from maps.region import DEFAULT_DATA_DIR, Region, cache_root

RESULTS = _HERE / "results"
OSM_FILE = DEFAULT_DATA_DIR / "kumamoto_chuo_highways_2023-01.osm.bz2"
CENSUS_FILE = DEFAULT_DATA_DIR / "tblT001101H4930.txt"
HOSPITALS = DEFAULT_DATA_DIR / "kumamoto_city_hospitals.geojson"
FEEDS = sorted(DEFAULT_DATA_DIR.glob("*.gtfs.zip"))
#: Columns that depend on the clock or the process, not on the computation.
VOLATILE = frozenset({"seconds", "worker", "traceback", "sim_wall_s", "plan_wall_s"})
WORKERS = 2
Box = tuple[float, float, float, float]


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------- memory
class MemoryProbe:
    """Peak RSS per process (this one and all its descendants) and of their sum, polled by
    a thread; and the machine's busy CPU time over the probe's life."""

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.peak: dict[int, int] = {}
        self.peak_total = 0
        self.busy_cores: float | None = None
        self.own_cores: float | None = None
        self._cpu0: dict[int, float] = {}
        self._cpu: dict[int, float] = {}
        self.available = True
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            import importlib

            psutil: Any = importlib.import_module("psutil")  # no type stubs installed
            self._psutil = psutil
            self._me: Any = psutil.Process()
            self._errors: tuple[type[BaseException], ...] = (psutil.Error,)
        except ImportError:
            self.available = False

    def sample(self) -> None:
        if not self.available:
            return
        try:
            procs = [self._me, *self._me.children(recursive=True)]
        except self._errors:
            return
        total = 0
        for p in procs:
            try:
                rss = int(p.memory_info().rss)
                c = p.cpu_times()
            except self._errors:
                continue
            self._cpu[p.pid] = float(c.user) + float(c.system)
            total += rss
            self.peak[p.pid] = max(self.peak.get(p.pid, 0), rss)
        self.peak_total = max(self.peak_total, total)

    def _busy(self) -> tuple[float, float]:
        t = self._psutil.cpu_times()
        idle = float(t.idle) + float(getattr(t, "iowait", 0.0))
        return sum(float(v) for v in t) - idle, time.perf_counter()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> MemoryProbe:
        self.sample()
        self._cpu0 = dict(self._cpu)  # processes that exist already: count from now
        if self.available:
            self._busy0 = self._busy()
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()
        if self.available:
            (b0, t0), (b1, t1) = self._busy0, self._busy()
            wall = max(t1 - t0, 1e-9)
            own = sum(v - self._cpu0.get(pid, 0.0) for pid, v in self._cpu.items())
            self.busy_cores = round((b1 - b0) / wall, 2)
            self.own_cores = round(own / wall, 2)


def _mb(nbytes: float) -> float:
    return round(nbytes / 2**20, 1)


def _children_maxrss_mb() -> float:
    """Max RSS of the largest waited-for descendant so far (Linux: ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)


def _self_maxrss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# ------------------------------------------------------------------------- running
@contextmanager
def cache_dir_env(path: Path | None) -> Iterator[None]:
    """Set ``HAKOBU_CACHE_DIR`` (seen by this process and by workers spawned inside)."""
    old = os.environ.get("HAKOBU_CACHE_DIR")
    if path is not None:
        os.environ["HAKOBU_CACHE_DIR"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("HAKOBU_CACHE_DIR", None)
        else:
            os.environ["HAKOBU_CACHE_DIR"] = old


def _drone_files() -> int:
    return len(list(cache_root().glob("drone-*.npz")))


def _stats(values: Sequence[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "mean": None, "max": None, "min": None, "sum": 0.0}
    return {"n": len(values), "mean": round(sum(values) / len(values), 2),
            "max": round(max(values), 2), "min": round(min(values), 2),
            "sum": round(sum(values), 2)}


def _pid(row: dict[str, Any]) -> int | None:
    w = str(row.get("worker", ""))
    try:
        return int(w.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None


def wait_quiet(limit_s: float = 90.0, busy_max: float = 0.3) -> float | None:
    """Wait until the machine is idle (other work below ``busy_max`` cores over 2 s: this
    process is idle here), at most ``limit_s``; return the seconds waited (None: gave up,
    or psutil missing)."""
    try:
        import importlib

        psutil: Any = importlib.import_module("psutil")
    except ImportError:
        return None
    t0 = time.perf_counter()
    while True:
        busy = float(psutil.cpu_percent(interval=2.0)) / 100 * (os.cpu_count() or 1)
        if busy < busy_max:
            return round(time.perf_counter() - t0, 1)
        if time.perf_counter() - t0 > limit_s:
            say(f"machine still busy ({busy:.1f} cores used by other work): running anyway")
            return None
        say(f"waiting for the machine to be quiet ({busy:.1f} cores used by other work)")


def timed_run(batch: Batch, out: Path, *, local: bool, profiler: bool = True
              ) -> dict[str, Any]:
    """One ``run_batch`` into the fresh folder ``out``: wall time, rows, task seconds,
    memory. ``profiler=False``: the cluster's workers run without Dask's statistical
    profiler (``distributed.worker.profile.enabled``)."""
    import dask

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    batch_mod._REGIONS.clear()  # the local run loads its regions like a fresh worker
    waited = wait_quiet()
    drones_before = _drone_files()
    load0 = os.getloadavg()[0]
    label = "local" if local else f"LocalCluster({WORKERS})" + ("" if profiler else
                                                                   ", profiler off")
    say(f"{label}: {len(batch.tasks())} tasks into {out}")
    conf = {} if profiler else {"distributed.worker.profile.enabled": False}
    with dask.config.set(conf), MemoryProbe() as probe:
        t0 = time.perf_counter()
        run: BatchRun = run_batch(batch, out, local=local, workers=WORKERS,
                                  progress=lambda m: say(f"  {label}: {m}"))
        wall = time.perf_counter() - t0
    batch_mod._REGIONS.clear()
    rows = run.rows
    kinds = {k: _stats([float(r["seconds"]) for r in rows if r["kind"] == k])
             for k in ("access", "scenario")}
    pids = sorted({p for r in rows if (p := _pid(r)) is not None})
    me = os.getpid()
    res: dict[str, Any] = {
        "wall_s": round(wall, 2), "run_batch_seconds": round(run.seconds, 2),
        "where": run.where, "dask_profiler": None if local else profiler,
        "machine_busy_cores": probe.busy_cores, "own_processes_cores": probe.own_cores,
        "other_processes_cores": None if probe.busy_cores is None or probe.own_cores is None
        else round(max(probe.busy_cores - probe.own_cores, 0.0), 2),
        "waited_for_quiet_s": waited, "tasks": len(rows), "ran": run.ran,
        "skipped": run.skipped,
        "failed": run.failed, "task_seconds": kinds,
        "task_seconds_sum": round(sum(float(r["seconds"]) for r in rows), 2),
        "tasks_per_worker": {str(p): sum(_pid(r) == p for r in rows) for p in pids},
        "drone_matrices_computed": _drone_files() - drones_before,
        "load_average_1min_start_end": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "memory_probe": "psutil" if probe.available else "unavailable",
        "rows": rows,
    }
    if local:
        res["peak_rss_mb_this_process"] = _mb(probe.peak.get(me, 0)) or None
        res["ru_maxrss_self_mb_so_far"] = _self_maxrss_mb()
    else:
        res["peak_rss_mb_per_worker"] = {str(p): _mb(probe.peak[p]) for p in pids
                                         if p in probe.peak}
        res["other_child_processes_peak_mb"] = {
            str(p): _mb(v) for p, v in probe.peak.items() if p != me and p not in pids}
        res["peak_rss_mb_this_process"] = _mb(probe.peak.get(me, 0)) or None
        res["peak_rss_mb_all_processes"] = _mb(probe.peak_total)
        res["ru_maxrss_children_mb_so_far"] = _children_maxrss_mb()
    for r in rows:
        if r["status"] != "ok":
            say(f"  {label}: FAILED {r['region']}/{r['kind']}: {r['error']}")
    return res


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def compare(a_rows: list[dict[str, Any]], b_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Compare the rows of two runs by ``key``, all columns but :data:`VOLATILE`."""
    a = {r["key"]: r for r in a_rows}
    b = {r["key"]: r for r in b_rows}
    diffs: list[dict[str, Any]] = []
    same_rows = 0
    for key in sorted(set(a) | set(b)):
        ra, rb = a.get(key), b.get(key)
        if ra is None or rb is None:
            diffs.append({"key": key, "column": "<row>", "local": ra is not None,
                          "cluster": rb is not None})
            continue
        cols = sorted((set(ra) | set(rb)) - VOLATILE)
        bad = [c for c in cols if not _same(ra.get(c, "<missing>"), rb.get(c, "<missing>"))]
        same_rows += not bad
        label = f"{ra['region']}/{ra['kind']}/f{ra['fleet']}d{ra['drones']}s{ra['seed']}"
        diffs += [{"key": key, "task": label, "column": c, "local": ra.get(c),
                   "cluster": rb.get(c)} for c in bad]
    return {"rows": len(set(a) | set(b)), "identical_rows": same_rows,
            "identical": not diffs, "columns_compared_exclude": sorted(VOLATILE),
            "differing_columns": sorted({d["column"] for d in diffs}),
            "differences": diffs[:50]}


PROJECT_MODULES = ("dispatch.batch", "dispatch.coverage", "dispatch.coverage_study",
                   "dispatch.coverage_report", "dispatch.coverage_scenarios",
                   "dispatch.simulate", "maps.osm", "maps.region", "routing.drone_plan")


def _import_project() -> float:
    """Import the modules a task uses; return the seconds (run in a fresh worker)."""
    import importlib

    t0 = time.perf_counter()
    for name in PROJECT_MODULES:
        importlib.import_module(name)
    return time.perf_counter() - t0


def cluster_overhead() -> dict[str, Any]:
    """Start an empty LocalCluster of 2 workers as ``run_batch`` does, import the project's
    modules in each worker, close it."""
    import logging

    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.WARNING)
    client = Client(cluster)
    client.wait_for_workers(WORKERS)
    up = time.perf_counter() - t0
    imports = client.run(_import_project)
    t1 = time.perf_counter()
    client.close()
    cluster.close()
    return {"start_s": round(up, 2), "close_s": round(time.perf_counter() - t1, 2),
            "worker_import_s": [round(float(v), 2) for v in imports.values()],
            "modules": list(PROJECT_MODULES)}


def sources_hash() -> str:
    """A hash of the project's Python sources (another engineer may edit them meanwhile)."""
    import hashlib

    h = hashlib.sha256()
    root = _HERE.parent
    for pkg in ("dispatch", "maps", "routing"):
        for f in sorted((root / pkg).rglob("*.py")):
            h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


# ------------------------------------------------------------------------- batch files
def _toml_str(v: str | Path) -> str:
    return json.dumps(str(v))  # a TOML basic string for these (ASCII) paths


def write_batch(path: Path, regions: list[dict[str, Any]], fleet: list[int],
                drones: list[int], seeds: list[int]) -> Path:
    lines: list[str] = []
    for r in regions:
        lines.append("[[region]]")
        for k, v in r.items():
            if isinstance(v, list):
                lines.append(f"{k} = [{', '.join(_toml_str(x) for x in v)}]")
            else:
                lines.append(f"{k} = {_toml_str(v)}")
        lines.append("")
    lines += ["[scenarios]", f"fleet = {fleet}", f"drones = {drones}", f"seeds = {seeds}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


#: A run during which other work used more CPU than this (cores) is run again (once).
CONTAMINATED_CORES = 0.25


def run_variants(batch: Batch, tmp: Path, part: str, fresh_cache: Callable[[str], Path],
                 no_profiler: bool, retries: int) -> dict[str, Any]:
    """Run ``batch`` locally, on the LocalCluster, and (``no_profiler``) on the
    LocalCluster without Dask's profiler; each run gets ``fresh_cache(name)`` as
    ``HAKOBU_CACHE_DIR``. A run during which other work took more than
    :data:`CONTAMINATED_CORES` is repeated up to ``retries`` times (the discarded attempts
    are kept in the JSON). Return the runs, the speed-ups and the row comparisons."""
    variants = [("local", True, True), ("cluster", False, True)]
    if no_profiler:
        variants.append(("cluster_noprof", False, False))
    out: dict[str, Any] = {}
    for which, is_local, prof in variants:
        discarded: list[dict[str, Any]] = []
        for attempt in range(retries + 1):
            cache = fresh_cache(which if not attempt else f"{which}-retry{attempt}")
            with cache_dir_env(cache):
                run = timed_run(batch, tmp / f"{part}-{which}", local=is_local, profiler=prof)
            other = run["other_processes_cores"] or 0.0
            if other <= CONTAMINATED_CORES or attempt == retries:
                break
            say(f"  {which}: other work used {other} cores during the run: running it again")
            discarded.append({k: run[k] for k in ("wall_s", "other_processes_cores",
                                                  "task_seconds", "task_seconds_sum")})
        run["discarded_attempts"] = discarded
        run["region_cache_entries"] = len(list(cache.glob("region-*")))
        run["region_loads"] = len({(r["region"], _pid(r)) for r in run["rows"]})
        out[which] = run
    for which, _, _ in variants[1:]:
        sfx = which.removeprefix("cluster")
        out[f"speed_up{sfx}"] = round(out["local"]["wall_s"] / out[which]["wall_s"], 2)
        out[f"compare{sfx}"] = compare(out["local"]["rows"], out[which]["rows"])
    return out


# ------------------------------------------------------------------------- part 1
def part1(tmp: Path, quick: bool, no_profiler: bool, retries: int
          ) -> tuple[dict[str, Any], Region]:
    from maps.region import default_region

    fleet, drones, seeds = ([0, 2], [0], [0, 1]) if quick else ([0, 2, 4, 8], [0, 4], [0, 1])
    shared = cache_root()
    warm_dir = tmp / "cache-p1-warm"
    warm_dir.mkdir()
    copied = 0
    for entry in sorted(shared.glob("region-*")):  # region entries only, no drone matrices
        if entry.is_dir():
            shutil.copytree(entry, warm_dir / entry.name)
            copied += 1
    said: list[str] = []
    with cache_dir_env(warm_dir):
        t0 = time.perf_counter()
        region = default_region(progress=said.append)
        load_s = time.perf_counter() - t0
    warm = {"load_s": round(load_s, 2),
            "from_cache": not any("reading roads" in m for m in said),
            "shared_cache_dir": str(shared), "region_entries_copied": copied,
            "drone_matrices_in_run_caches": 0}
    say(f"part 1: built-in region warmed in {warm['load_s']} s "
        f"({'from the cache' if warm['from_cache'] else 'built, cache was cold'})")
    bfile = write_batch(tmp / "kumamoto.toml", [{"name": "kumamoto"}], fleet, drones, seeds)
    batch = read_batch(bfile)

    def fresh(which: str) -> Path:
        cache = tmp / f"cache-p1-{which}"
        shutil.copytree(warm_dir, cache)  # the same warm cache for every run
        return cache

    runs = run_variants(batch, tmp, "p1", fresh, no_profiler, retries)
    access: dict[str, Any] = next((r for r in runs["local"]["rows"]
                                   if r["kind"] == "access"), {})
    return {"batch_file": bfile.read_text(encoding="utf-8"),
            "scenarios": {"fleet": fleet, "drones": drones, "seeds": seeds},
            "warm_up": warm, **runs,
            "population_total": access.get("population_total"),
            "population_in_gap": access.get("population_in_gap")}, region


# ------------------------------------------------------------------------- part 2
def split_box(bounds: Box, nx: int, ny: int) -> dict[str, Box]:
    """``nx`` x ``ny`` equal parts of ``bounds``, named by compass position."""
    x0, y0, x1, y1 = bounds
    xs = [x0 + (x1 - x0) * k / nx for k in range(nx + 1)]
    ys = [y0 + (y1 - y0) * k / ny for k in range(ny + 1)]
    we = {1: [""], 2: ["w", "e"]}[nx]
    sn = {1: [""], 2: ["s", "n"]}[ny]
    return {f"{sn[j]}{we[i]}": (xs[i], ys[j], xs[i + 1], ys[j + 1])
            for j in range(ny) for i in range(nx)}


def clip_osm(src: Path, box: Box, out: Path) -> dict[str, Any]:
    """Write to ``out`` (OSM XML) the ways of ``src`` whose nodes all lie in ``box``, the
    nodes they use, and the tagged nodes inside ``box``."""
    import osmium

    x0, y0, x1, y1 = box
    inside: set[int] = set()
    tagged: set[int] = set()
    n_nodes = 0
    for n in osmium.FileProcessor(str(src), osmium.osm.NODE):
        if not isinstance(n, osmium.osm.Node):
            continue
        n_nodes += 1
        loc = n.location
        if loc.valid() and x0 <= loc.lon <= x1 and y0 <= loc.lat <= y1:
            inside.add(n.id)
            if len(n.tags):
                tagged.add(n.id)
    kept_ways: set[int] = set()
    used: set[int] = set()
    n_ways = 0
    for w in osmium.FileProcessor(str(src), osmium.osm.WAY):
        if not isinstance(w, osmium.osm.Way):
            continue
        n_ways += 1
        refs = [r.ref for r in w.nodes]
        if len(refs) >= 2 and all(r in inside for r in refs):
            kept_ways.add(w.id)
            used.update(refs)
    keep = used | tagged
    if out.exists():
        out.unlink()
    writer = osmium.SimpleWriter(str(out))
    try:
        for obj in osmium.FileProcessor(str(src), osmium.osm.NODE | osmium.osm.WAY):
            if isinstance(obj, osmium.osm.Node):
                if obj.id in keep:
                    writer.add(obj)
            elif isinstance(obj, osmium.osm.Way) and obj.id in kept_ways:
                writer.add(obj)
    finally:
        writer.close()
    return {"file": str(out), "bytes": out.stat().st_size, "box": [round(v, 6) for v in box],
            "ways_kept": len(kept_ways), "ways_in_source": n_ways,
            "nodes_written": len(keep), "nodes_in_box": len(inside),
            "nodes_in_source": n_nodes, "tagged_nodes_in_box": len(tagged),
            "tagged_nodes_off_ways": len(tagged - used)}


def _box(bounds: Sequence[float]) -> Box:
    x0, y0, x1, y1 = (float(v) for v in bounds)
    return x0, y0, x1, y1


def _census_in(region: Region, box: Box) -> float:
    """Census residents inside ``box``, each cell counted by the share of its area inside."""
    import numpy as np
    import shapely

    pop = region.population
    geoms = np.asarray(pop.geometry.to_numpy())
    share = shapely.area(shapely.intersection(geoms, shapely.box(*box))) / shapely.area(geoms)
    return float((pop["total"].to_numpy(dtype=float) * share).sum())


def build_subregion(osm: Path, cache: Path) -> tuple[dict[str, Any], Region | None]:
    """Build one sub-region cold (fresh cache folder), timed, as a worker would."""
    from maps.region import region_from_files

    t0 = time.perf_counter()
    try:
        r = region_from_files(osm, gtfs=FEEDS, population=CENSUS_FILE, pois=[HOSPITALS],
                              cache_dir=cache)
    except Exception as exc:  # reported, and the batch shows the same error
        return {"build_s": round(time.perf_counter() - t0, 2),
                "error": f"{type(exc).__name__}: {exc}"}, None
    return {"build_s": round(time.perf_counter() - t0, 2),
            "bounds": [round(float(v), 6) for v in r.bounds],
            "road_nodes": int(r.road.n_nodes), "walk_nodes": int(r.walk.n_nodes),
            "stops_in_area": int(r.stops["in_area"].sum()), "cells": len(r.population),
            "pois": len(r.pois)}, r


def part2(tmp: Path, quick: bool, whole: Region, whole_total: int | None,
          no_profiler: bool, retries: int) -> dict[str, Any]:
    fleet, drones, seeds = ([0], [0], [0]) if quick else ([0, 2], [0], [0])
    bounds = _box(whole.bounds)
    boxes = split_box(bounds, 2, 1) if quick else split_box(bounds, 2, 2)
    subs: dict[str, dict[str, Any]] = {}
    regions = []
    build_cache = tmp / "cache-p2-build"
    for name, box in boxes.items():
        osm = tmp / f"kumamoto_{name}.osm"
        t0 = time.perf_counter()
        clip = clip_osm(OSM_FILE, box, osm)
        clip["clip_s"] = round(time.perf_counter() - t0, 2)
        build, reg = build_subregion(osm, build_cache)
        say(f"part 2: {name}: {clip['ways_kept']}/{clip['ways_in_source']} ways, "
            f"built cold in {build['build_s']} s")
        subs[name] = {"clip": clip, "build": build,
                      "census_in_box": round(_census_in(whole, box), 1),
                      "census_in_own_bounds": round(_census_in(whole, _box(reg.bounds)), 1)
                      if reg else None}
        regions.append({"name": f"kumamoto-{name}", "osm": str(osm),
                        "gtfs": [str(p) for p in FEEDS], "population": str(CENSUS_FILE),
                        "pois": [str(HOSPITALS)]})
        del reg
    bfile = write_batch(tmp / "subregions.toml", regions, fleet, drones, seeds)
    batch = read_batch(bfile)

    def fresh(which: str) -> Path:
        cache = tmp / f"cache-p2-{which}"
        cache.mkdir()  # empty: every run builds the sub-regions
        return cache

    runs = run_variants(batch, tmp, "p2", fresh, no_profiler, retries)
    kinds = [w for w in ("local", "cluster", "cluster_noprof") if w in runs]
    for name in subs:
        acc: dict[str, dict[str, Any]] = {
            w: next((r for r in runs[w]["rows"] if r["region"] == f"kumamoto-{name}"
                     and r["kind"] == "access"), {}) for w in kinds}
        subs[name]["access_task_s"] = {w: acc[w].get("seconds") for w in acc}
        for col in ("population_total", "population_in_gap", "share_in_gap",
                    "stops_counted", "status", "error"):
            subs[name][col] = acc["local"].get(col)
    totals = [s["population_total"] for s in subs.values()]
    sub_sum = sum(totals) if all(isinstance(t, int | float) for t in totals) else None
    pop = {
        "whole_region_population_total": whole_total,
        "sum_of_subregions": sub_sum,
        "difference": None if sub_sum is None or whole_total is None
        else round(sub_sum - whole_total, 1),
        "census_in_whole_bounds": round(_census_in(whole, bounds), 1),
        "census_in_parts_sum": round(sum(s["census_in_box"] for s in subs.values()), 1),
        "census_in_subregion_bounds_sum": round(sum(
            s["census_in_own_bounds"] or 0.0 for s in subs.values()), 1),
    }
    if pop["difference"] is not None and whole_total:
        pop["difference_share"] = round(pop["difference"] / whole_total, 4)
    return {"batch_file": bfile.read_text(encoding="utf-8"),
            "split": "2x1 (west/east)" if quick else "2x2 quadrants",
            "scenarios": {"fleet": fleet, "drones": drones, "seeds": seeds},
            "subregions": subs, **runs, "population": pop}


# ------------------------------------------------------------------------- table
def _ts(s: dict[str, Any]) -> str:
    if not s["n"]:
        return "-"
    return f"{s['mean']:.1f} / {s['max']:.1f}" if s["n"] > 1 else f"{s['mean']:.1f}"


def _workers_mb(run: dict[str, Any]) -> str:
    v = list(run.get("peak_rss_mb_per_worker", {}).values())
    return " / ".join(f"{x:.0f}" for x in v) if v else "-"


def _same_note(cmp_: dict[str, Any]) -> str:
    return "yes" if cmp_["identical"] else "NO: " + ", ".join(cmp_["differing_columns"])


def _run_rows(part: dict[str, Any], title: str) -> list[tuple[str, str, str, str]]:
    lo, cl, cmp_ = part["local"], part["cluster"], part["compare"]
    extra: list[tuple[str, str, str, str]] = []
    if "cluster_noprof" in part:
        nc = part["cluster_noprof"]
        extra = [
            ("  cluster, Dask profiler off: wall (s)", "", f"{nc['wall_s']:.1f}",
             f"x{part['speed_up_noprof']:.2f}; rows identical to local: "
             f"{_same_note(part['compare_noprof'])}"),
            ("    scenario task (s), mean / max", "", _ts(nc["task_seconds"]["scenario"]),
             f"access {_ts(nc['task_seconds']['access'])}; peak RSS {_workers_mb(nc)} MB; "
             f"CPU of other work {nc['other_processes_cores']} cores"),
        ]
    again = "; ".join(
        f"{w} run again (first attempt {d['wall_s']:.1f} s, other work "
        f"{d['other_processes_cores']} cores)"
        for w in ("local", "cluster", "cluster_noprof") if w in part
        for d in part[w].get("discarded_attempts", []))
    busy = (f"CPU of other work: {lo['other_processes_cores']} / "
            f"{cl['other_processes_cores']} cores") if lo.get("other_processes_cores") \
        is not None else ""
    return [
        (f"{title}: {lo['tasks']} tasks, wall (s)", f"{lo['wall_s']:.1f}", f"{cl['wall_s']:.1f}",
         f"x{part['speed_up']:.2f}" + (f"; {again}" if again else "")),
        ("  sum of task seconds (s)", f"{lo['task_seconds_sum']:.1f}",
         f"{cl['task_seconds_sum']:.1f}", "tasks per worker: "
         + ", ".join(str(v) for v in cl["tasks_per_worker"].values()) + f"; {busy}"),
        ("  access task (s), mean / max", _ts(lo["task_seconds"]["access"]),
         _ts(cl["task_seconds"]["access"]), ""),
        ("  scenario task (s), mean / max", _ts(lo["task_seconds"]["scenario"]),
         _ts(cl["task_seconds"]["scenario"]), "each re-runs the access study"),
        ("  peak RSS (MB)", f"{lo['peak_rss_mb_this_process'] or 0:.0f}", _workers_mb(cl),
         f"local: this process; cluster: per worker (RUSAGE_CHILDREN max "
         f"{cl['ru_maxrss_children_mb_so_far']:.0f})"),
        ("  rows identical", f"{cmp_['identical_rows']}/{cmp_['rows']}", "",
         _same_note(cmp_)),
        *extra,
    ]


def rows(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    p1, p2, oh = res["part1"], res["part2"], res["cluster_overhead"]
    out = [("LocalCluster(2) start / close (s)", "", f"{oh['start_s']:.1f} / {oh['close_s']:.1f}",
            "included in every cluster wall time"),
           ("  project imports in a fresh worker (s)", "",
            " / ".join(f"{v:.1f}" for v in oh["worker_import_s"]),
            "paid again by each run_batch's new workers")]
    w = p1["warm_up"]
    out.append(("kumamoto region warm-up (s)", f"{w['load_s']:.2f}", "",
                "from the region cache" if w["from_cache"] else "built (cache was cold)"))
    out += _run_rows(p1, "kumamoto sweep")
    if any(p1["scenarios"]["drones"]):
        out.append(("  drone matrices computed", str(p1["local"]["drone_matrices_computed"]),
                    str(p1["cluster"]["drone_matrices_computed"]),
                    "each run starts without any (own copy of the warm region cache)"))
    out += _run_rows(p2, f"sub-regions ({p2['split']})")
    out.append(("  region loads (region x process)", str(p2["local"]["region_loads"]),
                str(p2["cluster"]["region_loads"]), "fresh cache per run: each is a build "
                "or a hit on a peer's entry"))
    for name, s in p2["subregions"].items():
        b, c = s["build"], s["clip"]
        note = (f"{c['ways_kept']}/{c['ways_in_source']} ways, "
                + (f"{b['walk_nodes']:,} walk nodes, {b['cells']} cells" if "error" not in b
                   else b["error"]))
        out.append((f"  {name}: region build, cold (s)", f"{b['build_s']:.1f}", "", note))
        acc = s["access_task_s"]
        out.append((f"  {name}: access task incl. build (s)", f"{acc.get('local') or 0:.1f}",
                    f"{acc.get('cluster') or 0:.1f}", ""))
        pt, pg = s["population_total"], s["population_in_gap"]
        out.append((f"  {name}: population total / in gap",
                    f"{pt:,} / {pg:,}" if pt is not None else str(s["error"]), "",
                    f"census in part {s['census_in_box']:,.0f}, in own bbox "
                    f"{s['census_in_own_bounds'] or 0:,.0f}"))
    pop = p2["population"]
    if pop["sum_of_subregions"] is not None:
        out.append(("  sum of sub-regions' population_total", f"{pop['sum_of_subregions']:,}",
                    "", f"whole region {pop['whole_region_population_total']:,}: diff "
                    f"{pop['difference']:+,.0f} ({100 * pop.get('difference_share', 0):+.2f} %)"))
    return out


def print_table(res: dict[str, Any]) -> None:
    table = [("what", "local", f"cluster({WORKERS} workers)", "speed-up / note"), *rows(res)]
    w = [max(len(r[k]) for r in table) + 2 for k in range(3)]
    print()
    for a, b, c, d in table:
        print(f"{a:{w[0]}s}{b:>{w[1]}s}{c:>{w[2]}s}  {d}")


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    import distributed

    return (f"{cpu}, {os.cpu_count()} cores{mem} (may be shared with other work), Python "
            f"{platform.python_version()}, dask distributed {distributed.__version__}")


def _strip_rows(part: dict[str, Any]) -> None:
    """Keep the rows in the JSON without the tracebacks (long, and in the error already)."""
    for which in ("local", "cluster", "cluster_noprof"):
        if which not in part:
            continue
        part[which]["rows"] = [{k: v for k, v in r.items() if k != "traceback"}
                               for r in part[which]["rows"]]


def main(argv: list[str] | None = None) -> int:
    """Run both parts, print the table, write JSON; 1 if rows differ or a task failed."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="part 1: fleet 0,2 x drones 0 x seeds 0,1; part 2: 2 sub-regions, "
                    "fleet 0")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--retries", type=int, default=1,
                    help="repeat a run during which other work took over "
                    f"{CONTAMINATED_CORES} cores, up to this many times (default 1)")
    ap.add_argument("--no-profiler-variant", action="store_true",
                    help="skip the extra cluster runs without Dask's profiler")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="hakobu-scale-"))
    say(f"temporary folder {tmp}; region cache {cache_root()}")
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    src0 = sources_hash()
    progress: Callable[[str], None] = say
    try:
        progress("measuring LocalCluster start / close")
        overhead = cluster_overhead()
        noprof = not args.no_profiler_variant
        p1, whole = part1(tmp, args.quick, noprof, args.retries)
        p2 = part2(tmp, args.quick, whole, p1["population_total"], noprof, args.retries)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    wall = time.perf_counter() - t0
    src1 = sources_hash()
    res: dict[str, Any] = {"cluster_overhead": overhead, "part1": p1, "part2": p2,
                           "sources_hash_start_end": [src0, src1]}
    print_table(res)
    machine = machine_line()
    load1 = os.getloadavg()
    print(f"\nmachine: {machine}; load average {load0[0]:.2f} at start, {load1[0]:.2f} at "
          f"end; wall time {wall:.0f} s")
    if src0 != src1:
        print("  note: the project's sources (dispatch/, maps/, routing/) changed during the "
              "run (edited by someone else): the runs may not have used the same code")
    cmps = [(name, c, p[c]) for name, p in (("part 1", p1), ("part 2", p2))
            for c in ("compare", "compare_noprof") if c in p]
    ok = all(c["identical"] for _, _, c in cmps) and not any(
        p[w]["failed"] for p in (p1, p2) for w in ("local", "cluster", "cluster_noprof")
        if w in p)
    for name, which, c in cmps:
        for d in c["differences"][:10]:
            print(f"  {name} ({which}) differs: {d}")
    for p in (p1, p2):
        _strip_rows(p)
    out = args.json or RESULTS / ("scale_quick.json" if args.quick else "scale.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "machine": machine, "quick": args.quick,
        "command": "HAKOBU_CACHE_DIR=/tmp/hakobu-cache .venv/bin/python benchmarks/scale.py"
                   + (" --quick" if args.quick else ""),
        "region_cache": str(cache_root()), "load_average_start_end": [load0, load1],
        "table": [{"what": a, "local": b, "cluster": c, "note": d} for a, b, c, d in rows(res)],
        **res, "identical_and_ok": ok, "wall_s": round(wall, 1)},
        indent=1, ensure_ascii=False, default=str))
    print(f"wrote {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
