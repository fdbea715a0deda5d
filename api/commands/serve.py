"""``hakobu serve`` (the dispatch API) and ``hakobu keys create`` (issue an API key)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

_ROLES = ("admin", "dispatcher", "driver", "booking_client")


def serve(  # noqa: PLR0913 - one parameter per command-line option
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    osm: Annotated[Path | None, typer.Option(
        help="OSM file of your region (default: built-in Kumamoto).")] = None,
    gtfs: Annotated[list[Path] | None, typer.Option(help="GTFS zip (repeatable).")] = None,
    population: Annotated[Path | None, typer.Option(help="e-Stat mesh CSV.")] = None,
    pois: Annotated[list[Path] | None, typer.Option(help="GeoJSON points (repeatable).")] = None,
    database_url: Annotated[str | None, typer.Option(
        help="SQLAlchemy URL (default $HAKOBU_DATABASE_URL or sqlite:///hakobu.db).")] = None,
    tenant: Annotated[str, typer.Option(help="The tenant (town) this process serves.")] = "demo",
    vehicles: Annotated[int, typer.Option(help="Vehicles of the fleet (8 seats, 1 wheelchair).")
                        ] = 5,
    vans: Annotated[int, typer.Option(help="Delivery vans (30 parcels) at the depot.")] = 0,
    drones: Annotated[int, typer.Option(
        help="Drones at droneports at the hospitals outside the avoided airspace.")] = 0,
    did_policy: Annotated[str, typer.Option(
        "--did-policy", help="Drones over DIDs: avoid or permit (Level 4).")] = "avoid",
    max_stops: Annotated[int, typer.Option(help="Busiest transit stops used as boarding points."
                                           )] = 200,
    clock: Annotated[str, typer.Option(help="'wall' (real time) or 'manual' (POST /v1/clock).")
                     ] = "wall",
    reopt_every: Annotated[float, typer.Option(
        help="Seconds between background re-optimizations (0: off).")] = 300.0,
    reopt_limit: Annotated[float, typer.Option(
        help="Time limit of one re-optimization in the worker, seconds.")] = 5.0,
) -> None:
    """Run the dispatch API (ride requests, vehicles, manifest, KPIs) on HOST:PORT."""
    import uvicorn

    from api.app import create_app
    from api.inputs import InputError, check_region_files
    from api.settings import settings_from_env

    try:
        if not 1 <= port <= 65535:
            msg = f"--port: must be 1 to 65535, got {port}"
            raise InputError(msg)
        check_region_files(osm, gtfs=gtfs or [], population=population, pois=pois or [],
                           no_fly=[])
        settings = settings_from_env(database_url=database_url, tenant=tenant, osm=osm,
                                     gtfs=tuple(gtfs or ()), population=population,
                                     pois=tuple(pois or ()), vehicles=vehicles,
                                     vans=vans, drones=drones, did_policy=did_policy,
                                     max_stops=max_stops, clock=clock,
                                     reopt_every_s=reopt_every,
                                     reopt_time_limit_s=reopt_limit, freeze_gc=True)
    except (InputError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info",
                loop=_pick("uvloop", "asyncio"), http=_pick("httptools", "h11"),
                timeout_graceful_shutdown=GRACE_S)


#: Seconds ``hakobu serve`` gives requests in flight on SIGTERM before closing them.
GRACE_S = 30


def _pick(fast: str, fallback: str) -> str:
    """Return ``fast`` when that module is installed (C event loop, C HTTP parser)."""
    import importlib.util

    return fast if importlib.util.find_spec(fast) is not None else fallback


keys = typer.Typer(help="API keys of the dispatch service.", no_args_is_help=True)


@keys.command("create")
def create_key(
    tenant: Annotated[str, typer.Option(help="The tenant the key is bound to.")],
    role: Annotated[str, typer.Option(help="admin, dispatcher, driver or booking_client.")],
    vehicle: Annotated[int | None, typer.Option(
        help="Vehicle index (0-based) a driver key may see and report for.")] = None,
    database_url: Annotated[str | None, typer.Option(
        help="SQLAlchemy URL (default $HAKOBU_DATABASE_URL or sqlite:///hakobu.db).")] = None,
) -> None:
    """Issue a key and print it, alone, on stdout (it is stored only hashed)."""
    from dispatch.store import Store, StoreError

    if role not in _ROLES:
        typer.echo(f"error: --role: must be one of {', '.join(_ROLES)}, got {role!r}", err=True)
        raise typer.Exit(code=2)
    if (role == "driver") != (vehicle is not None) or (vehicle is not None and vehicle < 0):
        typer.echo("error: --vehicle: a driver key needs a vehicle index >= 0, other roles none",
                   err=True)
        raise typer.Exit(code=2)
    try:
        store = Store(database_url)
        if tenant not in store.tenants():
            store.create_tenant(tenant)
            typer.echo(f"tenant {tenant!r} created", err=True)
        key = store.create_key(tenant, role, vehicle=vehicle)
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(key)


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``keys`` to the ``hakobu`` application."""
    app.command("serve")(serve)
    app.add_typer(keys, name="keys")
