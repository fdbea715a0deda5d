"""Settings of the dispatch service, from keyword arguments or ``HAKOBU_*`` variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything :func:`api.app.create_app` needs.

    ``clock="wall"`` (the default) runs the engine on the wall clock: before each
    command it advances to now. ``clock="manual"`` moves it only through
    ``POST /v1/clock`` (tests, replays, training). Re-optimization runs every
    ``reopt_every_s`` seconds of wall time in a worker process (0: never).
    """

    database_url: str | None = None
    tenant: str = "demo"
    osm: Path | None = None
    gtfs: tuple[Path, ...] = ()
    population: Path | None = None
    pois: tuple[Path, ...] = ()
    vehicles: int = 5
    vans: int = 0
    drones: int = 0
    did_policy: str = "avoid"
    max_stops: int = 200
    timezone: str = "Asia/Tokyo"
    service_date: date | None = None
    clock: str = "wall"
    reopt_every_s: float = 300.0
    reopt_time_limit_s: float = 5.0
    plan_workers: int = 1
    plan_queue: int = 16
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 1_000_000
    #: Move everything alive once the service is up (the region, the recovered engines)
    #: out of the garbage collector's view (``gc.freeze``), so that its full passes scan
    #: only what the day adds: set by ``hakobu serve`` (a process serving one app).
    freeze_gc: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.clock not in ("wall", "manual"):
            msg = f"clock must be 'wall' or 'manual', got {self.clock!r}"
            raise ValueError(msg)
        if not 1 <= self.vehicles <= 500:
            msg = f"vehicles must be 1 to 500, got {self.vehicles}"
            raise ValueError(msg)
        if not 0 <= self.vans <= 500 or not 0 <= self.drones <= 200:
            msg = f"vans must be 0 to 500 and drones 0 to 200, got {self.vans} and {self.drones}"
            raise ValueError(msg)
        if self.did_policy not in ("avoid", "permit"):
            msg = f"did_policy must be avoid or permit, got {self.did_policy!r}"
            raise ValueError(msg)
        if not 1 <= self.max_stops <= 5000:
            msg = f"max_stops must be 1 to 5000, got {self.max_stops}"
            raise ValueError(msg)
        if not 0 <= self.reopt_every_s <= 24 * 3600 or not 0 < self.reopt_time_limit_s <= 600:
            msg = (f"reopt_every_s must be 0 to 86400 and reopt_time_limit_s 0 to 600, got "
                   f"{self.reopt_every_s} and {self.reopt_time_limit_s}")
            raise ValueError(msg)
        if not 1 <= self.plan_workers <= 16 or not 0 <= self.plan_queue <= 1000:
            msg = (f"plan_workers must be 1 to 16 and plan_queue 0 to 1000, got "
                   f"{self.plan_workers} and {self.plan_queue}")
            raise ValueError(msg)
        ZoneInfo(self.timezone)  # raises for an unknown zone

    def day(self) -> date:
        """Return the service date (today in the service's time zone by default)."""
        return self.service_date or datetime.now(ZoneInfo(self.timezone)).date()

    def load_region(self) -> Any:
        """Build the region these settings name: ``osm`` and the other files, or the
        built-in one."""
        from maps.region import default_region, region_from_files

        if self.osm is None:
            return default_region()
        return region_from_files(self.osm, gtfs=list(self.gtfs),
                                 population=self.population, pois=list(self.pois))


def settings_from_env(**overrides: object) -> Settings:
    """Return settings from ``HAKOBU_DATABASE_URL``, ``HAKOBU_TENANT``, ``HAKOBU_CLOCK``
    and ``HAKOBU_VEHICLES``, with ``overrides`` on top."""
    env: dict[str, object] = {}
    if os.environ.get("HAKOBU_DATABASE_URL"):
        env["database_url"] = os.environ["HAKOBU_DATABASE_URL"]
    if os.environ.get("HAKOBU_TENANT"):
        env["tenant"] = os.environ["HAKOBU_TENANT"]
    if os.environ.get("HAKOBU_CLOCK"):
        env["clock"] = os.environ["HAKOBU_CLOCK"]
    if os.environ.get("HAKOBU_VEHICLES"):
        env["vehicles"] = int(os.environ["HAKOBU_VEHICLES"])
    env.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**env)  # type: ignore[arg-type]
