"""Independent checker for truck-and-drone solutions (TSP-D and FSTSP).

It shares no code with the solvers in :mod:`routing.tspd`: it replays the operations on
a clock, truck and drone separately, and reports every broken rule:

* the operations form one chain from the depot (index 0) to the depot (the end index);
* every customer is served exactly once, by the truck or by the drone;
* drone legs are legal: the drone serves a customer it may serve (FSTSP ``Cprime``),
  different from the launch and landing nodes, and lands where it took off only when
  the problem allows (TSP-D); nodes are revisited only when the problem allows;
* FSTSP endurance: from the end of the launch to the end of the recovery (hovering while
  the truck is late included) the drone is in the air at most ``endurance``;
* the makespan recomputed from the legs equals the solution's claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from routing.tspd import DroneInstance, DroneSolution

#: Absolute tolerance on times and on the claimed makespan.
TOLERANCE = 1e-6


class DroneViolationKind(StrEnum):
    """Closed set of rules the checker verifies."""

    CHAIN = "chain"
    COVERAGE = "coverage"
    DRONE_LEG = "drone_leg"
    REVISIT = "revisit"
    ENDURANCE = "endurance"
    MAKESPAN = "makespan"


@dataclass(frozen=True, slots=True)
class DroneViolation:
    """One broken rule, with the operation (0-based, or -1 for the whole tour)."""

    kind: DroneViolationKind
    operation: int
    message: str


def replay(inst: DroneInstance, sol: DroneSolution) -> tuple[float, list[float]]:
    """Return the makespan by replaying the legs, and the drone's air time per operation.

    The truck leaves ``start`` after the launch (none at the depot at time 0), drives its
    path; the drone flies ``start -> customer -> end``; whichever arrives first waits;
    the recovery starts when both are there. Operations without drone add the drive.
    """
    clock = 0.0
    air: list[float] = []
    for op in sol.operations:
        path = [op.start, *op.truck, op.end]
        drive = 0.0
        for a, b in pairwise(path):
            drive += float(inst.truck[a][b])
        if op.drone is None:
            clock += drive
            air.append(0.0)
            continue
        launch = 0.0 if (op.start == 0 and clock == 0.0) else inst.launch_s
        depart = clock + launch
        truck_at = depart + drive
        drone_at = depart + float(inst.drone[op.start][op.drone]) + float(
            inst.drone[op.drone][op.end])
        done = max(truck_at, drone_at) + inst.recovery_s
        air.append(done - depart)
        clock = done
    return clock, air


def check_tspd(inst: DroneInstance, sol: DroneSolution) -> list[DroneViolation]:
    """Return every broken rule of ``sol`` (an empty list: the solution is feasible)."""
    if not sol.operations:
        return [DroneViolation(DroneViolationKind.CHAIN, -1, "no operations")]
    out = _check_chain(inst, sol)
    out += _check_drone_legs(inst, sol)
    out += _check_coverage(inst, sol)
    total, air = replay(inst, sol)
    for k, t in enumerate(air):
        if t > inst.endurance + TOLERANCE:
            out.append(DroneViolation(
                DroneViolationKind.ENDURANCE, k,
                f"drone in the air {t:.4f} (launch to end of recovery), endurance "
                f"{inst.endurance:g}"))
    if abs(total - sol.makespan) > TOLERANCE * max(1.0, abs(total)):
        out.append(DroneViolation(DroneViolationKind.MAKESPAN, -1,
                                  f"claimed makespan {sol.makespan:.6f}, the legs give "
                                  f"{total:.6f}"))
    return out


def _check_chain(inst: DroneInstance, sol: DroneSolution) -> list[DroneViolation]:
    out: list[DroneViolation] = []
    ops = sol.operations
    end = inst.truck.shape[0] - 1
    if ops[0].start != 0:
        out.append(DroneViolation(DroneViolationKind.CHAIN, 0,
                                  f"starts at node {inst.node_id(ops[0].start)}, not the depot"))
    if ops[-1].end != end:
        out.append(DroneViolation(DroneViolationKind.CHAIN, len(ops) - 1,
                                  "does not end at the depot"))
    for k, op in enumerate(ops):
        if k and op.start != ops[k - 1].end:
            out.append(DroneViolation(
                DroneViolationKind.CHAIN, k,
                f"starts at node {inst.node_id(op.start)} but the previous one ended at "
                f"{inst.node_id(ops[k - 1].end)}"))
        if any(not 0 <= v <= end for v in (op.start, op.end, *op.truck)):
            out.append(DroneViolation(DroneViolationKind.CHAIN, k, "names an unknown node"))
        if any(not 0 < v < end for v in op.truck):
            out.append(DroneViolation(DroneViolationKind.CHAIN, k,
                                      "the truck passes a depot inside an operation"))
        if op.end == end and k != len(ops) - 1:
            out.append(DroneViolation(DroneViolationKind.CHAIN, k,
                                      "reaches the end depot before the last operation"))
    return out


def _check_drone_legs(inst: DroneInstance, sol: DroneSolution) -> list[DroneViolation]:
    out: list[DroneViolation] = []
    end = inst.truck.shape[0] - 1
    for k, op in enumerate(sol.operations):
        d = op.drone
        if d is None:
            continue
        if not 0 < d < end:
            out.append(DroneViolation(DroneViolationKind.DRONE_LEG, k,
                                      f"drone sent to node {d}, not a customer"))
        elif not inst.drone_ok[d]:
            out.append(DroneViolation(
                DroneViolationKind.DRONE_LEG, k,
                f"customer {inst.node_id(d)} may not be served by the drone"))
        if d in (op.start, op.end):
            out.append(DroneViolation(DroneViolationKind.DRONE_LEG, k,
                                      "drone serves its own launch or landing node"))
        if op.start == op.end and not inst.revisits:
            out.append(DroneViolation(
                DroneViolationKind.DRONE_LEG, k,
                f"drone lands where it took off (node {inst.node_id(op.start)})"))
    return out


def _check_coverage(inst: DroneInstance, sol: DroneSolution) -> list[DroneViolation]:
    out: list[DroneViolation] = []
    end = inst.truck.shape[0] - 1
    truck_seen: list[int] = []
    drone_seen: list[int] = []
    for op in sol.operations:
        truck_seen.extend(v for v in (*op.truck, op.end) if 0 < v < end)
        if op.drone is not None:
            drone_seen.append(op.drone)
    for c in range(1, end):
        by_truck = truck_seen.count(c)
        by_drone = drone_seen.count(c)
        if by_truck + by_drone == 0:
            out.append(DroneViolation(DroneViolationKind.COVERAGE, -1,
                                      f"customer {inst.node_id(c)} is not served"))
        elif by_drone > 1 or (by_drone and by_truck):
            out.append(DroneViolation(
                DroneViolationKind.COVERAGE, -1,
                f"customer {inst.node_id(c)} is served {by_truck + by_drone} times "
                f"({by_truck} by truck, {by_drone} by drone)"))
        elif by_truck > 1 and not inst.revisits:
            out.append(DroneViolation(DroneViolationKind.REVISIT, -1,
                                      f"the truck visits customer {inst.node_id(c)} "
                                      f"{by_truck} times"))
    return out
