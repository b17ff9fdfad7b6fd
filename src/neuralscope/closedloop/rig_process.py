"""The simulated rig in its own process, for real-time runs.

On a real rig acquisition is other hardware; rendering a 512 x 512 frame
here costs more CPU than processing it, and in the loop's process it would
make the loop a CPU hog that the scheduler preempts. The worker renders
frame ``k + 1`` into shared memory while the loop processes frame ``k``
(double buffer), so a stimulus decided on frame ``k`` reaches the neurons
from frame ``k + 2`` on: one frame of acquisition lag, as on a scanning rig.
As-fast-as-possible runs keep the rig in-process (deterministic logs).
"""

from __future__ import annotations

import multiprocessing as mp
from multiprocessing import shared_memory

import numpy as np

from neuralscope.closedloop.rig import RigTruth, SimulatedRig


def _serve(conn, rig: SimulatedRig, shm_name: str) -> None:
    shm = shared_memory.SharedMemory(name=shm_name)
    try:
        slots = np.ndarray((2, rig.height, rig.width), dtype=np.float32, buffer=shm.buf)
        while True:
            try:
                msg = conn.recv()
            except EOFError:
                return
            try:
                if msg[0] == "render":
                    slots[msg[2]] = rig.read(msg[1])
                    conn.send(("done", msg[1]))
                elif msg[0] == "stim":
                    rig.stimulate(msg[1])
                elif msg[0] == "truth":
                    conn.send(("truth", rig.truth()))
                else:
                    return
            except Exception as exc:  # reported to the loop, which raises
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        del slots
        shm.close()


class RigProcess:
    """A :class:`SimulatedRig` served by a worker process (same source interface).

    Parameters
    ----------
    rig : SimulatedRig
        A fresh rig (no frame read yet); the worker gets a copy of it.
    """

    def __init__(self, rig: SimulatedRig):
        self.rig = rig
        self.fs, self.n_frames, self.frame_shape = rig.fs, rig.n_frames, rig.frame_shape
        self.footprints, self.height, self.width, self.n_rois = rig.footprints, rig.height, rig.width, rig.n_rois
        self.stimuli: list[tuple[int, dict]] = []
        self._shm = shared_memory.SharedMemory(create=True, size=2 * rig.height * rig.width * 4)
        self._slots = np.ndarray((2, rig.height, rig.width), dtype=np.float32, buffer=self._shm.buf)
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, rig, self._shm.name), daemon=True, name="neuralscope-rig")
        self._proc.start()
        child.close()
        self._pending: int | None = None
        self._truth: RigTruth | None = None
        self._read = 0
        self._request(0)  # the first frame is rendered before the loop's clock starts

    def _request(self, index: int) -> None:
        self._conn.send(("render", index, index % 2))
        self._pending = index

    def _wait(self) -> None:
        status, value = self._conn.recv()
        if status != "done":
            raise RuntimeError(f"rig process failed: {value}")

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` (a view of shared memory, valid until ``read(index + 2)``)."""
        if self._pending != index:
            self._request(index)
        self._wait()
        self._pending = None
        if index + 1 < self.n_frames:
            self._request(index + 1)  # render ahead while the loop processes this one
        self._read = index + 1
        return self._slots[index % 2]

    def stimulate(self, command: dict) -> None:
        """Send a stimulus (validated here, applied by the worker from the next frame it renders)."""
        from neuralscope.closedloop.rig import STIMULUS_KEYS
        from neuralscope.core.errors import NeuralscopeError

        unknown = set(command) - STIMULUS_KEYS
        if unknown:
            raise NeuralscopeError("stimulus", f"keys among {sorted(STIMULUS_KEYS)}", sorted(unknown))
        self.stimuli.append((self._read, dict(command)))
        self._conn.send(("stim", dict(command)))

    def truth(self) -> RigTruth:
        """Ground truth of the frames rendered (fetched from the worker; the frame rendered
        ahead is left out)."""
        if self._truth is None:
            if self._pending is not None:
                self._wait()
                self._pending = None
            self._conn.send(("truth",))
            status, value = self._conn.recv()
            if status != "truth":
                raise RuntimeError(f"rig process failed: {value}")
            k = self._read
            self._truth = RigTruth(value.shifts[:k], value.calcium[:k], value.spikes[:k], value.state[:k])
        return self._truth

    @property
    def true_shifts(self) -> np.ndarray:
        return self.rig.true_shifts

    @property
    def true_state(self) -> np.ndarray:
        return self.rig.true_state

    def close(self) -> None:
        """Stop the worker and free the shared memory (the truth stays available)."""
        if self._proc is None:
            return
        try:
            self.truth()
            self._conn.send(("close",))
        except (OSError, BrokenPipeError, EOFError, RuntimeError):
            pass
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.terminate()
        self._conn.close()
        del self._slots
        self._shm.close()
        self._shm.unlink()
        self._proc = None

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass
