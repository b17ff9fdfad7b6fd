"""Where a policy's optimiser runs: a worker process (default) or a worker thread.

A Gaussian-process suggestion is mostly Python and NumPy; in a thread it
holds the GIL for milliseconds at a time and the frame loop waits behind it.
In its own process it only competes for a core. Requests are served in
order, one suggestion outstanding at a time.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing as mp
from typing import Any


def _serve(conn, parameters: list[dict], seed: int, initial: int) -> None:
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from neuralscope.closedloop.policies import default_optimizer

    try:
        opt = default_optimizer(parameters, seed, initial)
        conn.send(("ok", f"{type(opt).__module__}.{type(opt).__name__}"))
    except Exception as exc:  # reported to the parent, which raises
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        try:
            if msg[0] == "suggest":
                conn.send(("ok", opt.suggest()))
            elif msg[0] == "observe":
                opt.observe(msg[1], msg[2])
            else:
                return
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class _PipeFuture:
    def __init__(self, conn):
        self._conn, self._value, self._have = conn, None, False

    def done(self) -> bool:
        return self._have or self._conn.poll()

    def result(self) -> Any:
        if not self._have:
            status, value = self._conn.recv()
            if status != "ok":
                raise RuntimeError(f"optimiser process failed: {value}")
            self._value, self._have = value, True
        return self._value


class ProcessHost:
    """The default optimiser (built from ``parameters``) in a spawned worker process."""

    def __init__(self, parameters: list[dict], seed: int, initial: int):
        # fork starts in milliseconds (spawn re-imports everything: seconds); the loop has no
        # threads of its own at this point, so forking is safe.
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, parameters, seed, initial), daemon=True,
                                 name="neuralscope-optimizer")
        self._proc.start()
        child.close()
        status, value = self._conn.recv()
        if status != "ok":
            self.close()
            raise RuntimeError(f"optimiser process failed: {value}")
        self.name = value

    def submit_suggest(self) -> _PipeFuture:
        self._conn.send(("suggest",))
        return _PipeFuture(self._conn)

    def observe(self, params: dict, value: float) -> None:
        self._conn.send(("observe", params, value))

    def close(self) -> None:
        try:
            self._conn.send(("close",))
        except (OSError, BrokenPipeError):
            pass
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.terminate()
        self._conn.close()


class ThreadHost:
    """A given optimiser object, called from one worker thread (calls stay in order)."""

    def __init__(self, optimizer: Any):
        self.optimizer = optimizer
        self.name = f"{type(optimizer).__module__}.{type(optimizer).__name__}"
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="optimizer")

    def submit_suggest(self):
        return self._pool.submit(self.optimizer.suggest)

    def observe(self, params: dict, value: float) -> None:
        self._pool.submit(self.optimizer.observe, params, value).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
