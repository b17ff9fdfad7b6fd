"""Positive pairs for contrastive training, at a cost per step that does not
depend on the length of the recording.

Everything that looks at the whole recording happens once, before training:

- continuous behaviour: a KD-tree over the (z-scored) behaviour gives every
  sample its ``n_neighbors`` nearest behavioural neighbours (also across
  sessions); a training step then only draws one of them per reference --
  O(batch) work per step instead of comparing each reference with every
  sample of the recording;
- discrete labels: the sample indices of each label, drawn from uniformly;
- time: a positive is the same session ``1..time_offset`` bins away, inside
  the same segment (trial), which needs no index at all.

Negatives are the other pairs' positives in the batch (see
:mod:`neuralscope.manifold.contrastive`), so no negative sampling is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["Layout", "PairSampler", "make_layout"]


@dataclass
class Layout:
    """Where each sample's window starts in a session's padded array.

    Segments (trials, or one continuous recording) are stacked with ``left``
    zero rows before and ``right`` after each, so every window fits without
    crossing into another segment.
    """

    rows: np.ndarray  # (n_samples,) first padded row of each sample's window
    seg_start: np.ndarray  # (n_samples,) first sample of the sample's segment
    seg_stop: np.ndarray  # (n_samples,) one past its segment's last sample
    data_rows: np.ndarray  # (n_samples,) padded row holding each sample itself
    n_rows: int

    @property
    def n_samples(self) -> int:
        return int(self.rows.shape[0])


def make_layout(lengths: list[int], left: int, right: int) -> Layout:
    """Layout of segments of the given lengths, padded by ``left``/``right`` bins."""
    rows, starts, stops, data_rows = [], [], [], []
    offset, first = 0, 0
    for n in lengths:
        j = np.arange(n)
        rows.append(offset + j)
        data_rows.append(offset + left + j)
        starts.append(np.full(n, first))
        stops.append(np.full(n, first + n))
        offset += left + n + right
        first += n
    return Layout(np.concatenate(rows), np.concatenate(starts), np.concatenate(stops),
                  np.concatenate(data_rows), offset)


@dataclass
class Group:
    """One block of a batch: references from ``ref_session``, positives from ``pos_session``."""

    ref_session: int
    refs: np.ndarray
    pos_session: int
    pos: np.ndarray


class PairSampler:
    """Draws (reference, positive) index pairs.

    Parameters
    ----------
    layouts : list of Layout
        One per session.
    behaviour : list of ndarray or None
        Per session: (n_samples, k) float behaviour, or (n_samples,) integer
        label codes (``discrete=True``). None for time-only training.
    mode : {"time", "behavior", "hybrid"}
        How positives are chosen; ``"hybrid"`` gives ``hybrid_fraction`` of
        each session's references a behaviour positive and the rest a time
        positive.
    time_offset : int
        Largest time offset (bins) of a time positive.
    n_neighbors : int
        Size of each sample's set of behavioural neighbours (continuous).
    discrete : bool
        Whether ``behaviour`` holds label codes.
    hybrid_fraction : float
        Share of behaviour positives in hybrid mode.
    """

    def __init__(self, layouts: list[Layout], behaviour: list[np.ndarray] | None, mode: str, time_offset: int,
                 n_neighbors: int, discrete: bool, hybrid_fraction: float = 0.5):
        self.layouts = layouts
        self.mode = mode
        self.time_offset = int(time_offset)
        self.discrete = discrete
        self.hybrid_fraction = float(hybrid_fraction)
        self.n_sessions = len(layouts)
        self.neighbours: dict[tuple[int, int], np.ndarray] = {}
        self.members: list[dict[int, np.ndarray]] = []
        self.codes: list[np.ndarray] = []
        if mode != "time":
            assert behaviour is not None
            if discrete:
                self._index_labels(behaviour)
            else:
                self._index_neighbours(behaviour, n_neighbors)

    # ------------------------------------------------------------ indexing
    def _index_neighbours(self, behaviour: list[np.ndarray], n_neighbors: int) -> None:
        pooled = np.concatenate(behaviour)
        mean, std = pooled.mean(axis=0), pooled.std(axis=0)
        std = np.where(std > 0, std, 1.0)  # a flat behaviour column carries no distance
        scaled = [(b - mean) / std for b in behaviour]
        trees = [cKDTree(b) for b in scaled]
        for s, ys in enumerate(scaled):
            for t, tree in enumerate(trees):
                same = s == t
                k = int(min(n_neighbors + same, tree.n))
                _, idx = tree.query(ys, k=k)
                idx = idx.reshape(len(ys), -1)
                # Within a session the first neighbour is the sample itself
                # (or an exact duplicate): drop it so positives differ from the reference.
                if same and idx.shape[1] > 1:
                    idx = idx[:, 1:]
                self.neighbours[(s, t)] = idx.astype(np.int64)

    def _index_labels(self, behaviour: list[np.ndarray]) -> None:
        for codes in behaviour:
            codes = np.asarray(codes, dtype=np.int64)
            self.codes.append(codes)
            self.members.append({int(c): np.flatnonzero(codes == c) for c in np.unique(codes)})

    # ------------------------------------------------------------- drawing
    def _time_positives(self, rng: np.random.Generator, session: int, refs: np.ndarray) -> np.ndarray:
        lay = self.layouts[session]
        off = rng.integers(1, self.time_offset + 1, refs.size) * rng.choice(np.array([-1, 1]), refs.size)
        lo, hi = lay.seg_start[refs], lay.seg_stop[refs] - 1
        pos = refs + off
        outside = (pos < lo) | (pos > hi)
        pos[outside] = refs[outside] - off[outside]  # near a segment edge: look the other way
        return np.clip(pos, lo, hi)

    def _behaviour_positives(self, rng: np.random.Generator, s: int, t: int, refs: np.ndarray) -> np.ndarray:
        if not self.discrete:
            table = self.neighbours[(s, t)]
            return table[refs, rng.integers(0, table.shape[1], refs.size)]
        pos = np.empty_like(refs)
        codes = self.codes[s][refs]
        for code in np.unique(codes):
            where = np.flatnonzero(codes == code)
            pool = self.members[t][int(code)]  # sample() only pairs sessions sharing the labels
            pos[where] = pool[rng.integers(0, pool.size, where.size)]
        return pos

    def _partner(self, rng: np.random.Generator, s: int) -> int:
        """The session behaviour positives of session ``s`` come from this step."""
        if self.n_sessions == 1:
            return s
        return int((s + rng.integers(1, self.n_sessions)) % self.n_sessions)

    def sample(self, rng: np.random.Generator, batch_size: int) -> list[Group]:
        """Groups whose references add up to ``batch_size``."""
        groups = []
        shares = np.full(self.n_sessions, batch_size // self.n_sessions)
        shares[: batch_size % self.n_sessions] += 1
        for s, n in enumerate(shares):
            refs = rng.integers(0, self.layouts[s].n_samples, int(n))
            if self.mode == "time":
                groups.append(Group(s, refs, s, self._time_positives(rng, s, refs)))
                continue
            n_beh = int(n) if self.mode == "behavior" else int(round(self.hybrid_fraction * int(n)))
            beh, rest = refs[:n_beh], refs[n_beh:]
            t = self._partner(rng, s)
            if self.discrete and any(int(c) not in self.members[t] for c in np.unique(self.codes[s][beh])):
                t = s  # keep positives' labels right when the partner lacks a label
            groups.append(Group(s, beh, t, self._behaviour_positives(rng, s, t, beh)))
            if rest.size:
                groups.append(Group(s, rest, s, self._time_positives(rng, s, rest)))
        return groups
