"""The loop runner: source -> pipeline -> policies -> stimulator, paced by a
monotonic clock, every decision logged with timestamps, every missed
deadline counted."""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neuralscope.closedloop.pipeline import STAGES
from neuralscope.core.errors import NeuralscopeError


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


@dataclass
class LoopResult:
    """Everything a run measured (times in seconds from the start of the run).

    ``latency_s`` runs from the frame being in memory to the last decision of
    that frame being sent; a frame misses its deadline when its decisions
    are sent after the next frame is due (real time: ``t_frame + 1/fs``; as
    fast as possible: a latency above ``1/fs``).
    """

    fs: float
    realtime: bool
    latency_s: np.ndarray
    stage_s: np.ndarray
    lateness_s: np.ndarray
    missed: np.ndarray
    shifts: np.ndarray
    decisions: list[dict]
    wall_s: float
    traces: dict[str, np.ndarray] = field(default_factory=dict)
    cpu_s: np.ndarray | None = None

    @property
    def frames(self) -> int:
        return int(self.latency_s.shape[0])

    def summary(self) -> dict:
        """The JSON contract (``frames``, ``latency_ms_p50/p99``, ``deadline_misses``) plus details."""
        lat = self.latency_s * 1e3
        period = 1.0 / self.fs
        stage_ms = self.stage_s * 1e3
        pct = (lambda a, q: float(np.percentile(a, q)) if a.size else float("nan"))
        kinds = [d["kind"] for d in self.decisions]
        return {
            "frames": self.frames,
            "latency_ms_p50": pct(lat, 50),
            "latency_ms_p99": pct(lat, 99),
            "deadline_misses": int(self.missed.sum()),
            "latency_ms_max": float(lat.max()) if lat.size else float("nan"),
            "latency_ms_mean": float(lat.mean()) if lat.size else float("nan"),
            "slow_frames": int((self.latency_s > period).sum()),
            "late_frames": int((self.lateness_s > period).sum()) if self.realtime else 0,
            "max_lateness_ms": float(self.lateness_s.max() * 1e3) if self.realtime and lat.size else 0.0,
            "deadline_ms": period * 1e3,
            "fs": self.fs,
            "realtime": self.realtime,
            # CPU time of the loop thread per frame: the work itself, without the waits a busy machine adds.
            "cpu_ms_p50": pct(self.cpu_s * 1e3, 50) if self.cpu_s is not None else float("nan"),
            "cpu_ms_p99": pct(self.cpu_s * 1e3, 99) if self.cpu_s is not None else float("nan"),
            "stage_ms_p50": {s: pct(stage_ms[:, i], 50) for i, s in enumerate(STAGES)},
            "stage_ms_p99": {s: pct(stage_ms[:, i], 99) for i, s in enumerate(STAGES)},
            "decisions": len(self.decisions),
            "stimulations": kinds.count("stimulate"),
            "wall_s": self.wall_s,
        }

    def decision_log(self, timestamps: bool = True) -> list[dict]:
        """The decisions; ``timestamps=False`` drops the wall-clock fields (``t_*``),
        which is what two runs with the same seed must agree on."""
        if timestamps:
            return [dict(d) for d in self.decisions]
        return [{k: v for k, v in d.items() if not k.startswith("t_")} for d in self.decisions]

    def write_log(self, path: str | Path) -> Path:
        """Write the decision log as JSON lines (atomically)."""
        from neuralscope.io.atomic import write_text_atomic

        text = "".join(json.dumps(_jsonable(d), allow_nan=True) + "\n" for d in self.decisions)
        return write_text_atomic(path, text)


class LoopRunner:
    """Run a closed loop over a frame source.

    Parameters
    ----------
    source : object
        ``fs``, ``n_frames``, ``read(index)`` (and ``stimulate(command)`` for
        a rig): :class:`SimulatedRig`, :class:`FileSource`, :class:`ArraySource`.
    pipeline : OnlinePipeline
        Anything whose ``process(frame)`` returns a :class:`FrameState`.
    policies : sequence of Policy
        Asked in order every frame.
    stimulator : callable, optional
        Receives each ``stimulate`` decision's command dict (default: the
        source's ``stimulate`` when it has one, else nothing is sent and the
        decision is still logged).
    realtime : bool
        Pace frames at ``1/fs`` with a monotonic clock (False: as fast as
        possible, for tests and replay analysis).
    n_frames : int, optional
        Stop after this many frames (default: the whole source).
    record : bool
        Keep the per-frame dF/F, calcium and spikes (frames x ROIs, float32).
    """

    def __init__(self, source: Any, pipeline: Any, policies: Sequence[Any] = (), stimulator: Callable | None = None,
                 realtime: bool = True, n_frames: int | None = None, record: bool = True):
        if n_frames is not None and not (isinstance(n_frames, (int, np.integer)) and n_frames >= 1):
            raise NeuralscopeError("frames", "an integer >= 1", n_frames)
        self.source, self.pipeline, self.policies = source, pipeline, list(policies)
        self.stimulator, self.realtime, self.n_frames, self.record = stimulator, bool(realtime), n_frames, bool(record)

    def run(self, progress: Callable[[str], None] | None = None) -> LoopResult:
        """Run the loop; returns a :class:`LoopResult`."""
        src = self.source
        fs = float(src.fs)
        n = int(min(self.n_frames or src.n_frames, src.n_frames))
        stim = self.stimulator or getattr(src, "stimulate", None)
        n_rois = int(getattr(self.pipeline, "n_rois_", 0))
        for pol in self.policies:
            pol.reset(fs, n_rois, self.realtime)
        latency = np.zeros(n)
        cpu = np.zeros(n)
        cpu_clock = time.thread_time
        stages = np.zeros((n, len(STAGES)))
        lateness = np.zeros(n)
        missed = np.zeros(n, dtype=bool)
        shifts = np.zeros((n, 2))
        traces = {k: np.zeros((n, n_rois), dtype=np.float32) for k in ("dff", "calcium", "spikes")} if self.record else {}
        decoded: list[Any] = []
        log: list[dict] = []
        period = 1.0 / fs
        clock = time.perf_counter  # monotonic, highest resolution
        gc_enabled = gc.isenabled()
        gc.disable()  # a collection inside the loop is a latency spike we do not need
        t0 = clock()
        k = 0
        try:
            for k in range(n):
                t_frame = k * period
                if self.realtime:
                    wait = t_frame - (clock() - t0)
                    if wait > 0:
                        time.sleep(wait)
                t_start = clock() - t0
                frame = src.read(k)
                t_arrival = clock() - t0
                c_arrival = cpu_clock()
                state = self.pipeline.process(frame)
                for pol in self.policies:
                    for d in pol.step(state):
                        t_dec = clock() - t0
                        t_stim = None
                        if d.kind == "stimulate" and stim is not None:
                            stim(d.stimulus)
                            t_stim = clock() - t0
                        log.append({"frame": k, "t_frame_s": t_frame if self.realtime else t_start,
                                    "t_arrival_s": t_arrival, "t_decision_s": t_dec, "t_stimulus_s": t_stim,
                                    "policy": d.policy, "kind": d.kind, "reason": d.reason,
                                    "stimulus": _jsonable(d.stimulus), "value": d.value, **_jsonable(d.extra)})
                t_done = clock() - t0
                cpu[k] = cpu_clock() - c_arrival
                latency[k] = t_done - t_arrival
                stages[k] = state.stage_seconds
                shifts[k] = state.shift
                if self.realtime:
                    lateness[k] = t_start - t_frame
                    missed[k] = t_done > t_frame + period
                else:
                    missed[k] = latency[k] > period
                if self.record:
                    traces["dff"][k] = state.dff
                    traces["calcium"][k] = state.calcium
                    traces["spikes"][k] = state.spikes
                    decoded.append(_jsonable(state.decoded))
                if progress is not None and (k + 1) % 300 == 0:
                    progress(f"frame {k + 1}/{n}: latency p50 {np.median(latency[:k + 1]) * 1e3:.2f} ms, "
                             f"{int(missed[:k + 1].sum())} deadline miss(es)")
        finally:
            wall = clock() - t0
            if gc_enabled:
                gc.enable()
            for pol in self.policies:
                pol.close()
        if self.record and decoded and decoded[0] is not None:
            traces["decoded"] = np.asarray(decoded)
        return LoopResult(fs, self.realtime, latency, stages, lateness, missed, shifts, log, wall, traces, cpu)
