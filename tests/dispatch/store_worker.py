"""A booking process for the crash test: books and confirms rides until it is killed.

``python store_worker.py TABLE.npz DATABASE_URL TENANT`` loads the travel table,
opens the store, and books rides one after another; after each confirmation returns
(its command committed) it prints ``confirmed <id> <earliest> <latest>`` and flushes.
"""

from __future__ import annotations

import sys

import numpy as np

from dispatch.engine import Engine, Offer, RideRequest, StopOption, VehicleSpec
from dispatch.network import TravelTable
from dispatch.store import Store
from routing.model import TimeWindow

START_S = 8 * 3600


def fleet() -> list[VehicleSpec]:
    """The fleet of the crash test."""
    return [VehicleSpec(id=f"bus{k}", depot=0, capacity=(8, 1, 0)) for k in range(4)]


def load_table(path: str) -> TravelTable:
    """Return the travel table saved with ``np.savez``."""
    z = np.load(path)
    return TravelTable(locations=z["locations"], durations=z["durations"],
                       distances=z["distances"])


def main(argv: list[str]) -> int:
    """Book until killed (or 5,000 bookings)."""
    table_path, url, tenant = argv
    table = load_table(table_path)
    store = Store(url)
    store.create_tenant(tenant)
    eng = store.attach(tenant, Engine(table, fleet(), start_s=START_S))
    rng = np.random.default_rng(7)
    for n in range(5000):
        a, b = (int(x) for x in rng.choice(np.arange(1, table.n), size=2, replace=False))
        t = START_S + 1800 + int(rng.integers(0, 8 * 3600))
        ans = eng.book(RideRequest(id=f"r{n}", rider=f"m{n}",
                                   origin=(StopOption(location=a),),
                                   destination=(StopOption(location=b),),
                                   pickup_window=TimeWindow(earliest=t, latest=t + 1800)))
        if isinstance(ans, Offer):
            eng.confirm(ans.request_id)
            w = ans.pickup_window
            print(f"confirmed {ans.request_id} {w.earliest} {w.latest}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
