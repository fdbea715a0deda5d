"""``hakobu report``, ``hakobu export gtfs-flex`` and ``hakobu standing expand``.

* ``report DAY_DIR [DAY_DIR ...] --out DIR``: the municipal report over simulated or
  served days (:mod:`dispatch.municipal`);
* ``export gtfs-flex --profile FILE --out DIR``: the service as a GTFS-Flex feed
  (:mod:`dispatch.gtfs_flex`), checked after writing;
* ``standing expand FILE --from DATE --to DATE``: standing bookings expanded into dated
  bookings under a profile's calendar and booking rules (:mod:`dispatch.standing`).

Bad input ends with one ``error:`` line on stderr naming the folder, file or field, and
exit status 2.
"""

from __future__ import annotations

import json
import time
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.commands import check_out

if TYPE_CHECKING:
    from dispatch.profile import ServiceProfile


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    return typer.Exit(code=2)


def _date(text: str | None, flag: str, default: date) -> date:
    if text is None:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _fail(f"{flag}: {text!r} is not a date YYYY-MM-DD") from None


def _profile(path: Path) -> ServiceProfile:
    from dispatch.errors import DispatchError
    from dispatch.profile import load_profile

    if not path.is_file():
        raise _fail(f"--profile {path}: file not found")
    try:
        return load_profile(path)
    except (DispatchError, OSError) as exc:
        raise _fail(f"--profile {exc}") from None


def report(
    days: Annotated[list[Path], typer.Argument(
        help="Day folders written by hakobu simulate or demo (kpis.json, report.json).")],
    out: Annotated[Path, typer.Option(help="Output folder for the report.")] = Path(
        "hakobu-report"),
    title: Annotated[str, typer.Option(help="Report title (default: the days covered).")] = "",
) -> None:
    """Turn simulated or served days into a monthly report: CSV tables, Markdown and
    HTML summary with plots (riders, trips by purpose/class/area, refusals by rule,
    on-time and connection rates, revenue, cost, farebox ratio, subsidy per rider)."""
    from dispatch.municipal import ReportError, build_report, load_day, totals_table
    from dispatch.municipal import write_report as write

    t0 = time.perf_counter()
    try:
        loaded = [load_day(d) for d in days]
        month = build_report(loaded, title)
    except ReportError as exc:
        raise _fail(str(exc)) from None
    check_out(out)
    paths = write(month, out)
    typer.echo(month.title)
    typer.echo(totals_table(month))
    for note in month.notes:
        typer.echo(f"note: {note}")
    typer.echo(f"wrote {len(paths)} files to {out} ({time.perf_counter() - t0:.1f} s): "
               + ", ".join(p.name for p in paths))


def gtfs_flex(
    profile: Annotated[Path, typer.Option(help="Service profile (TOML).")],
    out: Annotated[Path, typer.Option(help="Output folder for the feed's files.")] = Path(
        "hakobu-gtfs-flex"),
    start: Annotated[str | None, typer.Option(
        "--start", help="First date the feed covers (default today).")] = None,
    end: Annotated[str | None, typer.Option(
        "--end", help="Last date the feed covers (default start + 364 days).")] = None,
    agency_url: Annotated[str, typer.Option(
        help="The operator's web page (GTFS requires one; the profile has none).")] = "",
    phone: Annotated[str, typer.Option(help="Booking phone number.")] = "",
    booking_url: Annotated[str, typer.Option(help="Booking web page.")] = "",
    pickup: Annotated[str, typer.Option(
        help="zones: door to door anywhere in a zone; points: at the profile's registered "
             "boarding points (location groups).")] = "zones",
) -> None:
    """Export a service profile as a GTFS-Flex feed (zones, booking rules, service
    windows, calendar without holidays and closures) and check it."""
    from datetime import timedelta

    from dispatch.gtfs_flex import FlexExportError, check_feed, export

    first = _date(start, "--start", date.today())
    last = _date(end, "--end", first + timedelta(days=364))
    if not agency_url:
        raise _fail("--agency-url: required (GTFS agency.txt needs the operator's web page)")
    prof = _profile(profile)
    check_out(out)
    try:
        paths = export(prof, out, start=first, end=last, agency_url=agency_url, phone=phone,
                       booking_url=booking_url, pickup=pickup)
    except FlexExportError as exc:
        raise _fail(str(exc)) from None
    problems = check_feed(out)
    for name in ("locations.geojson", "location_groups.txt", "stops.txt", "trips.txt",
                 "stop_times.txt", "calendar_dates.txt"):
        p = out / name
        if p not in paths:
            continue
        n = (len(json.loads(p.read_text(encoding="utf-8"))["features"]) if p.suffix ==
             ".geojson" else len(p.read_text(encoding="utf-8").splitlines()) - 1)
        typer.echo(f"{name:<20} {n:>4} {'features' if p.suffix == '.geojson' else 'rows'}")
    typer.echo(f"wrote {len(paths)} files to {out} covering {first}..{last}")
    if problems:
        for pr in problems:
            typer.echo(f"error: {pr}", err=True)
        raise typer.Exit(code=1)
    typer.echo("checked: every location, booking rule and trip used exists; windows ordered")


def standing_expand(
    series: Annotated[Path, typer.Argument(help="Standing bookings (TOML or CSV).")],
    profile: Annotated[Path | None, typer.Option(
        help="Service profile: its calendar and booking rules apply.")] = None,
    first: Annotated[str | None, typer.Option(
        "--from", help="First date (default today).")] = None,
    last: Annotated[str | None, typer.Option(
        "--to", help="Last date (default --from + 27 days).")] = None,
    now: Annotated[str | None, typer.Option(
        help="When the expansion runs, YYYY-MM-DDTHH:MM (default now).")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Write the bookings, skips and flags as JSON here.")] = None,
) -> None:
    """Expand standing bookings into dated bookings; list the dates skipped (holidays,
    closures, cancellations) and the trips flagged for the dispatcher."""
    from datetime import timedelta

    from dispatch.calendar import ServiceCalendar
    from dispatch.standing import StandingError, expand, expansion_to_dict, flag_table, load_series

    a = _date(first, "--from", date.today())
    b = _date(last, "--to", a + timedelta(days=27))
    if b < a:
        raise _fail(f"--to {b} is before --from {a}")
    try:
        at = datetime.fromisoformat(now) if now else datetime.now().replace(microsecond=0)
    except ValueError:
        raise _fail(f"--now: {now!r} is not YYYY-MM-DDTHH:MM") from None
    try:
        templates = load_series(series)
    except StandingError as exc:
        raise _fail(str(exc)) from None
    prof = _profile(profile) if profile is not None else None
    cal = (ServiceCalendar.from_table(dict(prof.calendar),
                                      source=f"{prof.source}: [calendar]")
           if prof is not None and prof.calendar else ServiceCalendar())
    t0 = time.perf_counter()
    x = expand(templates, cal, a, b, prof, now=at)
    wall = time.perf_counter() - t0
    typer.echo(f"{len(templates)} series, {a}..{b}: {len(x.bookings)} bookings, "
               f"{len(x.skips)} dates skipped, {len(x.flags)} flagged ({wall:.2f} s)")
    for k in x.skips:
        typer.echo(f"skip  {k.day}  {k.series_id}  {k.reason}  {k.detail}")
    typer.echo(flag_table(x.flags))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(expansion_to_dict(x), ensure_ascii=False, indent=1),
                       encoding="utf-8")
        typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add ``report``, ``export gtfs-flex`` and ``standing expand`` to ``hakobu``."""
    app.command("report")(report)
    export = typer.Typer(help="Publish a service in standard formats.")
    export.command("gtfs-flex")(gtfs_flex)
    app.add_typer(export, name="export")
    standing = typer.Typer(help="Standing (weekly) bookings.")
    standing.command("expand")(standing_expand)
    app.add_typer(standing, name="standing")
