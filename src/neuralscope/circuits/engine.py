"""Event-driven, trial-batched LIF network simulation in torch.

Design (why it is fast without a code-generation step):

- State is a (neurons x trials) matrix, so one step of every trial is a handful
  of vectorised tensor operations; the sub-threshold dynamics are integrated
  exactly (linear system), so dt only quantises spike times.
- Synaptic propagation is event-driven: the out-edges of the neurons that
  spiked are gathered from a CSR edge list, held in a ring buffer for the
  synaptic delay and added with one ``index_add_``; nothing is done for silent
  neurons. Networks of up to 4,096 neurons use dense weight matrices instead
  (one row gather per spike batch).
- Only *active* neurons are stepped: a neuron enters the active set when it is
  driven or when a spike is sent to it (it arrives ``delay`` steps later) and
  leaves it once it is back at rest in every trial. In a whole-brain model most
  neurons never leave rest, so a step costs O(active) not O(all neurons).
- Each trial draws its random numbers from its own stream (``SeedSequence(seed,
  spawn_key=(trial, purpose))``), so trial k is the same alone or in a batch.

The update order within a step is Brian2's (state update, threshold, synaptic
delivery and Poisson input, reset), and so is refractoriness: a variable frozen
during the refractory period also ignores the input arriving then. With float64
state the spike trains of Brian2's CUBA benchmark and of the C. elegans network
come out identical to Brian2's (``benchmarks/simulation.py``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from neuralscope.circuits._loop import Simulation
from neuralscope.circuits.experiment import Experiment, edge_scale
from neuralscope.circuits.params import LIFParameters, get_preset
from neuralscope.circuits.results import SimulationResult
from neuralscope.core.connectome import Connectome
from neuralscope.core.errors import NeuralscopeError


def default_device() -> str:
    """``"cuda"`` when a GPU is available, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def _dtype(dtype: Any) -> torch.dtype:
    table = {"float32": torch.float32, "float64": torch.float64, torch.float32: torch.float32, torch.float64: torch.float64}
    if dtype not in table:
        raise NeuralscopeError("dtype", "'float32' or 'float64'", dtype)
    return table[dtype]


class LIFNetwork:
    """A connectome turned into a current-based LIF network, ready to run experiments.

    Parameters
    ----------
    connectome : Connectome
        The wiring: edge weight = ``w_syn * count * sign`` (chemical), gap
        junctions couple with ``w_gap * count`` (electrical).
    params : str or LIFParameters
        A preset name (``"flywire-lif"``, ``"cuba"``, ``"celegans-lif"``) or parameters.
    device : str, optional
        ``"cpu"`` or ``"cuda"``; default :func:`default_device`.
    dtype : {"float32", "float64"}
        Precision of the state (float64 for bit-level comparisons with Brian2).

    Attributes
    ----------
    build_seconds_ : float
        Wall time spent turning the edge list into the CSR used by the simulator.
    """

    def __init__(self, connectome: Connectome, params: str | LIFParameters = "flywire-lif", *,
                 device: str | None = None, dtype: str = "float32"):
        if not isinstance(connectome, Connectome):
            raise NeuralscopeError("connectome", "a neuralscope Connectome", type(connectome).__name__)
        self.connectome = connectome
        self.params = get_preset(params)
        self.device = torch.device(device or default_device())
        self.dtype = _dtype(dtype)
        t0 = time.perf_counter()
        self._build()
        self.build_seconds_ = time.perf_counter() - t0

    def _build(self) -> None:
        c, p, dev = self.connectome, self.params, self.device
        n = c.n_neurons
        chem = np.flatnonzero(~c.is_electrical)
        pre = c.pre[chem]
        # Sort the chemical edges by presynaptic neuron (CSR); skip the sort when already sorted.
        order = chem if (pre.size < 2 or bool(np.all(pre[1:] >= pre[:-1]))) else chem[np.argsort(pre, kind="stable")]
        self._chem_order = order
        counts = np.bincount(c.pre[order], minlength=n)
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=indptr[1:])
        sign = c.sign[order]
        w_inh = p.w_syn if p.w_syn_inh is None else p.w_syn_inh
        w = c.count[order].astype(np.float64) * np.where(sign > 0, p.w_syn, -w_inh)
        self._indptr = torch.from_numpy(indptr).to(dev)
        self._degree = torch.from_numpy(counts.astype(np.int64)).to(dev)
        self._post = torch.from_numpy(c.post[order].astype(np.int64)).to(dev)
        self._weight = torch.from_numpy(w).to(dev, self.dtype)
        two = p.tau_syn_inh is not None and p.tau_syn_inh != p.tau_syn
        self._n_channels = 2 if two else 1
        self._channel_id = torch.from_numpy((sign < 0).astype(np.int64)).to(dev) if two else None
        el = np.flatnonzero(c.is_electrical)
        self._el = el if (el.size and p.w_gap > 0) else np.zeros(0, np.int64)

    # ------------------------------------------------------------------ helpers
    def _gap_matrix(self, silenced: np.ndarray, factor: np.ndarray | None) -> torch.Tensor:
        """Gap-junction Laplacian L (CSR): ``L @ u`` is each neuron's ``sum_j w_gap count (u_j - u_i)``.

        Rows are post neurons; columns of silenced presynaptic neurons carry no current.
        """
        import warnings

        c, n, el = self.connectome, self.connectome.n_neurons, self._el
        vals = self.params.w_gap * c.count[el].astype(np.float64)
        if factor is not None:
            vals = vals * factor[el]
        vals = np.where(silenced[c.pre[el]], 0.0, vals)
        diag = np.bincount(c.post[el], weights=vals, minlength=n)
        rows = np.concatenate([c.post[el], np.arange(n)]).astype(np.int64)
        cols = np.concatenate([c.pre[el], np.arange(n)]).astype(np.int64)
        with warnings.catch_warnings():  # torch flags sparse CSR as beta; the product used here is stable
            warnings.simplefilter("ignore", UserWarning)
            coo = torch.sparse_coo_tensor(torch.from_numpy(np.stack([rows, cols])),
                                          torch.from_numpy(np.concatenate([vals, -diag])), (n, n),
                                          check_invariants=True).coalesce()
            return coo.to_sparse_csr().to(self.device, self.dtype)

    def _resolve(self, experiment: Experiment):
        c, p = self.connectome, self.params
        acts = []
        for a in experiment.activations:
            idx = c.index(list(a.ids), "activate")
            rate = p.input_rate if a.rate is None else a.rate
            if rate * p.dt > 1:
                raise NeuralscopeError("activate.rate", f"a rate <= 1/dt = {1 / p.dt:g} Hz", rate)
            acts.append((idx, rate, a.start, a.stop, p.input_weight if a.weight is None else a.weight))
        currents = [(c.index(list(k.ids), "inject"), k.amplitude, k.start, k.stop) for k in experiment.currents]
        silenced = np.zeros(c.n_neurons, bool)
        if experiment.silenced:
            silenced[c.index(list(experiment.silenced), "silence")] = True
        return acts, currents, silenced, edge_scale(c, experiment.scales)

    def input_events(self, experiment: Experiment, *, duration: float, n_trials: int = 1, seed: int = 0):
        """The Poisson input spikes :meth:`run` draws for these arguments (e.g. to feed another simulator).

        Returns a DataFrame with columns ``step``, ``t`` (s), ``trial``, ``neuron`` (index) and
        ``weight`` (mV), sorted by step.
        """
        import pandas as pd

        from neuralscope.circuits._loop import draw_poisson, trial_streams
        from neuralscope.circuits.params import timestep

        acts = self._resolve(experiment)[0]
        st, neu, tri, w = draw_poisson(acts, timestep(duration, self.params.dt), self.params.dt,
                                       trial_streams(seed, n_trials))
        return pd.DataFrame({"step": st, "t": st * self.params.dt, "trial": tri, "neuron": neu, "weight": w})

    # ---------------------------------------------------------------------- run
    def run(self, experiment: Experiment | None = None, *, duration: float = 1.0, n_trials: int = 1, seed: int = 0,
            weight_scale: float = 1.0, v_init: Any = "rest", active_set: str | bool = "auto",
            rest_tolerance: float = 1e-6, threads: int | None = None,
            progress: Callable[[str], None] | None = None) -> SimulationResult:
        """Simulate ``n_trials`` independent trials of ``experiment`` for ``duration`` seconds.

        Parameters
        ----------
        experiment : Experiment, optional
            Inputs and perturbations (default: none; the network stays at rest).
        duration : float
            Seconds of simulated time (> 0).
        n_trials : int
            Trials simulated together as a batch.
        seed : int
            Seed of the Poisson inputs and random initial potentials; trial k uses
            the k-th child stream, whatever the batch size.
        weight_scale : float
            Global factor on every chemical synaptic weight (see :func:`fit_synaptic_scale`).
        v_init : "rest", "uniform" or array
            Initial potentials: rest, uniform between reset and threshold, or
            values in mV of shape (n_neurons,) or (n_neurons, n_trials).
        active_set : "auto", True or False
            Step only the active neurons (driven ones, ones a spike was sent to, and
            ones not yet back at rest); impossible with gap junctions, which couple
            every neuron. "auto" uses it whenever possible.
        rest_tolerance : float
            |v - v_rest| and |g| (mV) below which an active neuron counts as at rest.
        threads : int, optional
            CPU threads for the run (torch's setting is restored afterwards); default:
            leave torch's setting. The per-step tensors are small, so one thread is
            usually fastest, and on a busy machine several threads can be many
            times slower (see ``benchmarks/simulation.py``). Once torch has run
            with more threads, their idle spinning still slows a one-thread run
            down: for the best speed set ``torch.set_num_threads(1)`` (or
            ``OMP_NUM_THREADS=1``) before any torch work, as the CLI does.
        progress : callable, optional
            Receives a message every 10 % of the run.
        """
        experiment = experiment if experiment is not None else Experiment()
        if not isinstance(experiment, Experiment):
            raise NeuralscopeError("experiment", "an Experiment", type(experiment).__name__)
        if not (isinstance(duration, (int, float)) and math.isfinite(duration) and duration > 0):
            raise NeuralscopeError("duration", "a positive duration in seconds", duration)
        if not (isinstance(n_trials, (int, np.integer)) and n_trials >= 1):
            raise NeuralscopeError("n_trials", "an integer >= 1", n_trials)
        if not (math.isfinite(weight_scale) and weight_scale >= 0):
            raise NeuralscopeError("weight_scale", "a factor >= 0", weight_scale)
        t_start = time.perf_counter()
        sim = Simulation(self, experiment, float(duration), int(n_trials), int(seed), float(weight_scale),
                          v_init, active_set, float(rest_tolerance), progress)
        steps, neurons, trials = sim.loop()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return SimulationResult(
            steps=steps, neurons=neurons, trials=trials, neuron_ids=self.connectome.neuron_ids,
            n_trials=int(n_trials), duration=float(duration), dt=self.params.dt, experiment=experiment,
            params=self.params, wall_seconds=time.perf_counter() - t_start, device=str(self.device),
            max_active=sim.max_active,
        )


def simulate(connectome: Connectome, experiment: Experiment | None = None, params: str | LIFParameters = "flywire-lif",
             *, duration: float = 1.0, n_trials: int = 1, seed: int = 0, device: str | None = None,
             dtype: str = "float32", **run_options: Any) -> SimulationResult:
    """Build a :class:`LIFNetwork` and run one experiment (see :meth:`LIFNetwork.run`).

    Examples
    --------
    >>> from neuralscope.circuits import Experiment, simulate
    >>> from neuralscope.circuits.celegans import load_celegans
    >>> worm = load_celegans()
    >>> res = simulate(worm, Experiment().activate(["ALML", "ALMR"], 50.0), "celegans-lif",
    ...                duration=0.2, n_trials=2, device="cpu")
    >>> bool(res.rates(["ALML"]).rate_hz.iloc[0] > 0)
    True
    """
    net = LIFNetwork(connectome, params, device=device, dtype=dtype)
    res = net.run(experiment, duration=duration, n_trials=n_trials, seed=seed, **run_options)
    res.build_seconds = net.build_seconds_
    return res
