"""Fares and operating costs of a service profile (all amounts in JPY).

A trip's base fare is flat, by zone pair, or by the road distance of the direct trip
(riders never pay for the detours of shared rides). The rider pays the base fare less
the class's concession (or the class's fixed fare), rounded up to the profile's step;
each companion (同乗者) pays the base fare less the class's companion concession. A day
pass caps what one rider pays for their own rides in a day (its price takes the same
concession). The operating cost is per vehicle-hour, per km and fixed per vehicle-day.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from dispatch.profile import CostModel, FareRules, RiderClass, ServiceProfile
from dispatch.rules import OUTSIDE, TripQuery


@dataclass(frozen=True, slots=True, kw_only=True)
class FareQuote:
    """What one booking pays: the rider, the companions, and the total."""

    base_jpy: int
    rider_jpy: int
    companion_jpy: int
    companions: int
    rider_class: str

    @property
    def total_jpy(self) -> int:
        """The rider's fare plus every companion's."""
        return self.rider_jpy + self.companions * self.companion_jpy


def round_up(amount: float, step: int) -> int:
    """Return ``amount`` rounded up to a multiple of ``step`` (1e-9 JPY tolerance)."""
    return math.ceil(amount / step - 1e-9) * step


def base_fare(fares: FareRules, origin_zone: str, destination_zone: str,
              distance_m: float) -> int:
    """Return the base fare of a trip between two zones over ``distance_m`` of road."""
    if fares.kind == "flat":
        return fares.flat_jpy
    if fares.kind == "zone":
        pair = fares.zone_jpy.get((origin_zone, destination_zone))
        if pair is not None:
            return pair
        return fares.same_zone_jpy if origin_zone == destination_zone else fares.cross_zone_jpy
    km = distance_m / 1000.0
    extra = max(0.0, km - fares.base_km)
    steps = math.ceil(extra / fares.step_km - 1e-9) if extra > 0 else 0
    fare = fares.base_jpy + steps * fares.per_step_jpy
    return fare if fares.max_jpy is None else min(fare, fares.max_jpy)


def concession(fares: FareRules, cls: RiderClass, base_jpy: int) -> int:
    """Return what a rider of class ``cls`` pays for a trip of base fare ``base_jpy``."""
    if cls.fare_jpy is not None:
        return cls.fare_jpy
    return round_up(base_jpy * (1.0 - cls.fare_discount_pct / 100.0), fares.round_up_jpy)


def companion_fare(fares: FareRules, cls: RiderClass, base_jpy: int) -> int:
    """Return what each companion of a class-``cls`` rider pays."""
    return round_up(base_jpy * (1.0 - cls.companion_discount_pct / 100.0),
                    fares.round_up_jpy)


def quote(profile: ServiceProfile, rider_class: str | None, origin_zone: str,
          destination_zone: str, distance_m: float, companions: int = 0) -> FareQuote:
    """Return the fare of one booking.

    Raises
    ------
    KeyError
        When the class is not one of the profile's.
    """
    cls = profile.rider_class(rider_class)
    if cls is None:
        raise KeyError(rider_class)
    base = base_fare(profile.fares, origin_zone, destination_zone, distance_m)
    return FareQuote(base_jpy=base, rider_jpy=concession(profile.fares, cls, base),
                     companion_jpy=companion_fare(profile.fares, cls, base),
                     companions=companions, rider_class=cls.name)


def trip_quote(profile: ServiceProfile, trip: TripQuery, distance_m: float) -> FareQuote:
    """Return the fare of a trip the rules accepted (its zones from its ends)."""
    zones = []
    for lon, lat in (trip.origin, trip.destination):
        z = profile.area.zone_of(lon, lat)
        zones.append(z if z is not None else OUTSIDE)
    return quote(profile, trip.rider_class, zones[0], zones[1], distance_m, trip.companions)


def day_pass_price(profile: ServiceProfile, rider_class: str | None) -> int | None:
    """Return the day pass price for a class (with its concession), or ``None``."""
    price = profile.fares.day_pass_jpy
    cls = profile.rider_class(rider_class)
    if price is None or cls is None:
        return price
    if cls.fare_jpy is not None and cls.fare_jpy == 0:
        return 0
    return round_up(price * (1.0 - cls.fare_discount_pct / 100.0), profile.fares.round_up_jpy)


def rider_day_total(profile: ServiceProfile, rider_class: str | None,
                    quotes: Iterable[FareQuote]) -> int:
    """Return what one rider's party pays in a day: the rider's own fares capped at the
    day pass (when the profile sells one), plus the companions' fares."""
    qs = list(quotes)
    own = sum(q.rider_jpy for q in qs)
    cap = day_pass_price(profile, rider_class)
    if cap is not None:
        own = min(own, cap)
    return own + sum(q.companions * q.companion_jpy for q in qs)


def operating_cost(costs: CostModel, *, vehicle_hours: float, km: float,
                   vehicle_days: int) -> float:
    """Return the operating cost of ``vehicle_days`` vehicles driving ``km`` in
    ``vehicle_hours``."""
    return (costs.per_vehicle_hour_jpy * vehicle_hours + costs.per_km_jpy * km
            + costs.per_vehicle_day_jpy * vehicle_days)
