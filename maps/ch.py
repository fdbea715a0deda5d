"""Contraction hierarchy and PHAST many-to-all sweeps, vectorised across sources.

Build once per graph (seconds, pure Python; cached with the region), then each matrix
needs one tiny upward search per source (scipy Dijkstra on the upward graph) and one
downward sweep over the nodes level by level, done for *all sources at once* with numpy
(Delling et al., "PHAST: hardware-accelerated shortest path trees", 2011).

Shortcuts are added whenever a bounded witness search does not prove them unnecessary,
so the hierarchy preserves every shortest-path distance exactly (extra shortcuts cost
speed, never correctness). Weights are the exact-integer float64 weights of
:mod:`maps.matrix`.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

_INT64 = npt.NDArray[np.int64]
_F64 = npt.NDArray[np.float64]
_WITNESS_SETTLE_LIMIT = 60


def _ro(arr: npt.ArrayLike, dtype: type) -> Any:
    out: np.ndarray = np.array(arr, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Hierarchy:
    """A contraction hierarchy over a graph's nodes ``0..n-1`` (read-only arrays).

    Attributes
    ----------
    n_nodes
        Number of nodes.
    rank
        Contraction order (0 = first contracted).
    up_tail, up_head, up_weight
        Edges (original and shortcuts) towards higher-ranked nodes.
    down_tail, down_head, down_weight
        Edges from higher- to lower-ranked nodes, in sweep order: by descending level of
        the head, then by the edge's position among the edges into its head.
    down_ptr
        Offsets of the sweep groups in the ``down_*`` arrays; no head repeats in a group.
    """

    n_nodes: int
    rank: _INT64
    up_tail: _INT64
    up_head: _INT64
    up_weight: _F64
    down_tail: _INT64
    down_head: _INT64
    down_weight: _F64
    down_ptr: _INT64

    def __post_init__(self) -> None:
        for name in ("rank", "up_tail", "up_head", "down_tail", "down_head", "down_ptr"):
            object.__setattr__(self, name, _ro(getattr(self, name), np.int64))
        for name in ("up_weight", "down_weight"):
            object.__setattr__(self, name, _ro(getattr(self, name), np.float64))

    def to_arrays(self) -> dict[str, Any]:
        """Return the fields as arrays (for ``numpy.savez``)."""
        out = {name: getattr(self, name) for name in _FIELDS}
        out["n_nodes"] = np.array(self.n_nodes)
        return out

    @classmethod
    def from_arrays(cls, arrays: Any) -> Hierarchy:
        """Rebuild from :meth:`to_arrays` output."""
        return cls(
            n_nodes=int(arrays["n_nodes"]), **{name: np.asarray(arrays[name]) for name in _FIELDS}
        )


_FIELDS = (
    "rank",
    "up_tail",
    "up_head",
    "up_weight",
    "down_tail",
    "down_head",
    "down_weight",
    "down_ptr",
)


class _Builder:
    """Mutable state of the contraction (adjacency of the not-yet-contracted graph)."""

    def __init__(self, n: int, tail: _INT64, head: _INT64, weight: _F64) -> None:
        self.out: list[dict[int, float]] = [{} for _ in range(n)]
        self.inn: list[dict[int, float]] = [{} for _ in range(n)]
        for u, v, w in zip(tail.tolist(), head.tolist(), weight.tolist(), strict=True):
            if u != v and w < self.out[u].get(v, np.inf):
                self.out[u][v] = w
                self.inn[v][u] = w
        self.level = [0] * n
        self.deleted = [0] * n

    def _witness(self, source: int, skip: int, limit: float) -> dict[int, float]:
        dist = {source: 0.0}
        heap = [(0.0, source)]
        settled = 0
        while heap and settled < _WITNESS_SETTLE_LIMIT:
            d, x = heapq.heappop(heap)
            if d > limit:
                break
            if d > dist[x]:
                continue
            settled += 1
            for y, w in self.out[x].items():
                if y == skip:
                    continue
                nd = d + w
                if nd < dist.get(y, np.inf):
                    dist[y] = nd
                    heapq.heappush(heap, (nd, y))
        return dist

    def shortcuts(self, v: int) -> list[tuple[int, int, float]]:
        found: list[tuple[int, int, float]] = []
        outs = self.out[v]
        for u, wu in self.inn[v].items():
            targets = {x: wu + wx for x, wx in outs.items() if x != u}
            if not targets:
                continue
            dist = self._witness(u, v, max(targets.values()))
            found.extend((u, x, c) for x, c in targets.items() if dist.get(x, np.inf) > c)
        return found

    def priority(self, v: int) -> int:
        edges = len(self.inn[v]) + len(self.out[v])
        return len(self.shortcuts(v)) - edges + self.deleted[v]

    def contract(self, v: int, ups: list[tuple[int, int, float]], downs: list[Any]) -> None:
        for u, x, c in self.shortcuts(v):
            if c < self.out[u].get(x, np.inf):
                self.out[u][x] = c
                self.inn[x][u] = c
        for x, w in self.out[v].items():
            ups.append((v, x, w))
            del self.inn[x][v]
        for u, w in self.inn[v].items():
            downs.append((u, v, w))
            del self.out[u][v]
        for x in set(self.out[v]) | set(self.inn[v]):
            self.level[x] = max(self.level[x], self.level[v] + 1)
            self.deleted[x] += 1
        self.out[v] = {}
        self.inn[v] = {}


def build_hierarchy(n: int, tail: _INT64, head: _INT64, weight: _F64) -> Hierarchy:
    """Contract a directed graph into a :class:`Hierarchy`.

    Parameters
    ----------
    n
        Number of nodes.
    tail, head, weight
        Edges; parallel edges keep their minimum weight; self-loops are dropped.

    Returns
    -------
    Hierarchy

    Notes
    -----
    Node order: lazy updates of edge difference plus contracted neighbours. Witness
    searches settle at most 60 nodes; when they give up, the shortcut is kept.
    """
    b = _Builder(n, tail, head, weight)
    heap = [(b.priority(v), v) for v in range(n)]
    heapq.heapify(heap)
    rank = np.full(n, -1, dtype=np.int64)
    ups: list[tuple[int, int, float]] = []
    downs: list[tuple[int, int, float]] = []
    order = 0
    while heap:
        _, v = heapq.heappop(heap)
        if rank[v] >= 0:
            continue
        prio = b.priority(v)
        if heap and prio > heap[0][0]:
            heapq.heappush(heap, (prio, v))
            continue
        b.contract(v, ups, downs)
        rank[v] = order
        order += 1
    up = np.array(ups, dtype=np.float64).reshape(-1, 3)
    down = np.array(downs, dtype=np.float64).reshape(-1, 3)
    level = np.asarray(b.level, dtype=np.int64)
    d_tail, d_head, d_w = down[:, 0].astype(np.int64), down[:, 1].astype(np.int64), down[:, 2]
    # group the downward edges by (head level descending, k-th edge into its head): within
    # a group every head occurs once, so a sweep step is a plain gather/min/scatter
    by_head = np.lexsort((d_head, -level[d_head]))
    heads = d_head[by_head]
    run_start = np.flatnonzero(np.concatenate([[True], heads[1:] != heads[:-1]]))
    slot = np.empty(heads.shape[0], dtype=np.int64)
    slot[by_head] = np.arange(heads.shape[0]) - np.repeat(
        run_start, np.diff(np.append(run_start, heads.shape[0]))
    )
    order_idx = np.lexsort((d_head, slot, -level[d_head]))
    d_tail, d_head, d_w = d_tail[order_idx], d_head[order_idx], d_w[order_idx]
    key = level[d_head] * (int(slot.max(initial=0)) + 1) + slot[order_idx]
    cuts = np.flatnonzero(np.diff(key)) + 1
    ptr = np.concatenate([[0], cuts, [d_head.shape[0]]]).astype(np.int64)
    return Hierarchy(
        n_nodes=n,
        rank=rank,
        up_tail=up[:, 0].astype(np.int64),
        up_head=up[:, 1].astype(np.int64),
        up_weight=up[:, 2],
        down_tail=d_tail,
        down_head=d_head,
        down_weight=d_w,
        down_ptr=ptr,
    )


def many_to_many(
    h: Hierarchy,
    starts: tuple[_INT64, _INT64, _F64],
    n_sources: int,
    targets: _INT64,
    *,
    block: int = 64,
) -> _F64:
    """Distances from virtual sources to target nodes, shape ``(len(targets), n_sources)``.

    Parameters
    ----------
    h
        The hierarchy.
    starts
        ``(source, node, weight)`` arrays: source ``i`` reaches ``node`` at ``weight``
        (>= 0); a source may have several.
    n_sources
        Number of sources.
    targets
        Node indices whose distances are wanted.
    block
        Sources swept together (64 keeps a block of distances in cache).

    Returns
    -------
    numpy.ndarray
        ``inf`` where unreachable. Note the transposed layout.
    """
    n = h.n_nodes
    s_src, s_node, s_w = starts
    tail = np.concatenate([h.up_tail, n + s_src])
    head = np.concatenate([h.up_head, s_node])
    # +1 keeps zero-weight start edges as explicit edges; subtracted after the search
    weight = np.concatenate([h.up_weight, s_w + 1.0])
    order = np.lexsort((weight, head, tail))
    t, hd, w = tail[order], head[order], weight[order]
    keep = np.ones(t.shape[0], dtype=bool)
    keep[1:] = (t[1:] != t[:-1]) | (hd[1:] != hd[:-1])
    graph = csr_matrix((w[keep], (t[keep], hd[keep])), shape=(n + n_sources, n + n_sources))
    groups = [
        (h.down_tail[a:b], h.down_weight[a:b, None], h.down_head[a:b])
        for a, b in zip(h.down_ptr[:-1].tolist(), h.down_ptr[1:].tolist(), strict=True)
    ]
    out = np.empty((targets.shape[0], n_sources))
    for s0 in range(0, n_sources, block):
        s1 = min(s0 + block, n_sources)
        up = dijkstra(graph, indices=n + np.arange(s0, s1))[:, :n] - 1.0
        dist = np.ascontiguousarray(up.T)
        for tails, wts, heads in groups:
            best = dist[tails] + wts
            np.minimum(best, dist[heads], out=best)
            dist[heads] = best
        out[:, s0:s1] = dist[targets]
    return out
