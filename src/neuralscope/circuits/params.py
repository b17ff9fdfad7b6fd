"""Parameters of the current-based leaky integrate-and-fire network, and presets.

Units: seconds for times, millivolts for potentials and synaptic weights, hertz
for rates. Synaptic input is "current-based" in voltage units: each presynaptic
spike adds ``w`` (mV) to a synaptic variable ``g`` that decays with ``tau_syn``
and drives the membrane, ``tau_m dv/dt = v_rest - v + g + I``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from neuralscope.core.errors import NeuralscopeError


def timestep(t: float, dt: float) -> int:
    """Number of steps in ``t`` (floor with a 1e-3 dt tolerance, so 2.2 ms / 0.1 ms = 22)."""
    return math.floor((t + 1e-3 * dt) / dt)


@dataclass(frozen=True)
class LIFParameters:
    """Current-based LIF network parameters (times in s, potentials in mV).

    Parameters
    ----------
    v_rest, v_reset, v_threshold : float
        Resting, reset and threshold potentials (mV). A spike is emitted when
        ``v > v_threshold`` after a time step.
    tau_m : float
        Membrane time constant (s).
    tau_syn : float
        Synaptic time constant (s) of excitatory synapses, and of inhibitory ones
        unless ``tau_syn_inh`` is given.
    tau_syn_inh : float or None
        Separate time constant for inhibitory synapses (a second synaptic variable).
    refractory : float
        Absolute refractory period (s): for the ``refractory / dt - 1`` steps after
        a spike no spike can be emitted, ``v`` is frozen at the reset value and
        input to it (Poisson, gap junctions) is discarded, as Brian2 does for
        ``(unless refractory)`` variables.
    delay : float
        Synaptic delay (s), rounded to whole steps; 0 delivers in the spike's step.
    dt : float
        Time step (s); the sub-threshold dynamics are integrated exactly.
    w_syn : float
        Weight per synapse (mV); an edge weighs ``w_syn * count * sign``.
    w_syn_inh : float or None
        Weight per inhibitory synapse (mV, magnitude); default ``w_syn``.
    w_gap : float
        Coupling per gap junction (dimensionless, relative to the leak): an
        electrical edge adds ``w_gap * count * (v_pre - v_post)`` to the post
        neuron's input.
    input_rate : float
        Default Poisson rate (Hz) of :meth:`Experiment.activate`.
    input_weight : float
        Jump of ``v`` (mV) per Poisson input spike.
    input_refractory : float or None
        Refractory period of Poisson-driven neurons (the fly model uses 0 so a
        driven neuron follows its input); ``None`` keeps ``refractory``.
    freeze_synapses_when_refractory : bool
        Whether the synaptic variables are also frozen during the refractory
        period, synaptic input arriving then being discarded (the fly model), or
        keep decaying and summing input (the CUBA benchmark).
    reset_synapses : bool
        Whether a spike also sets the neuron's synaptic variables to 0.
    """

    v_rest: float = -52.0
    v_reset: float = -52.0
    v_threshold: float = -45.0
    tau_m: float = 20e-3
    tau_syn: float = 5e-3
    tau_syn_inh: float | None = None
    refractory: float = 2.2e-3
    delay: float = 1.8e-3
    dt: float = 0.1e-3
    w_syn: float = 0.275
    w_syn_inh: float | None = None
    w_gap: float = 0.0
    input_rate: float = 150.0
    input_weight: float = 250 * 0.275
    input_refractory: float | None = 0.0
    freeze_synapses_when_refractory: bool = True
    reset_synapses: bool = True

    def __post_init__(self) -> None:
        for name in ("tau_m", "tau_syn", "dt"):
            _positive(name, getattr(self, name))
        if self.tau_syn_inh is not None:
            _positive("tau_syn_inh", self.tau_syn_inh)
        for name in ("refractory", "delay", "w_syn", "w_gap", "input_rate", "input_weight"):
            _finite_nonneg(name, getattr(self, name))
        for name in ("v_rest", "v_reset", "v_threshold"):
            if not math.isfinite(getattr(self, name)):
                raise NeuralscopeError(name, "a finite potential in mV", getattr(self, name))
        # v_rest may lie above threshold (intrinsically firing cells, as in CUBA); the reset may not.
        if self.v_threshold <= self.v_reset:
            raise NeuralscopeError("v_threshold", "a threshold above v_reset",
                                   f"{self.v_threshold} (v_reset {self.v_reset})")
        if self.refractory > 0 and self.dt > self.refractory:
            raise NeuralscopeError("dt", f"a time step no longer than the refractory period ({self.refractory * 1e3:g} ms)",
                                   f"{self.dt * 1e3:g} ms")
        if self.dt > 0.2 * min(self.tau_m, self.tau_syn):
            raise NeuralscopeError("dt", "a time step below a fifth of tau_m and tau_syn", f"{self.dt * 1e3:g} ms")
        if self.w_syn_inh is not None:
            _finite_nonneg("w_syn_inh", self.w_syn_inh)
        if self.input_refractory is not None:
            _finite_nonneg("input_refractory", self.input_refractory)

    @property
    def refractory_steps(self) -> int:
        return timestep(self.refractory, self.dt)

    @property
    def delay_steps(self) -> int:
        return round(self.delay / self.dt)

    def replace(self, **changes: Any) -> LIFParameters:
        """A copy with some parameters changed (validated again)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise NeuralscopeError("parameters", f"names among {sorted(f.name for f in dataclasses.fields(self))}", sorted(unknown))
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _positive(name: str, v: float) -> None:
    if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
        raise NeuralscopeError(name, "a positive finite number", v)


def _finite_nonneg(name: str, v: float) -> None:
    if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
        raise NeuralscopeError(name, "a non-negative finite number", v)


#: Named parameter sets.
#:
#: - ``flywire-lif``: the whole-fly-brain model of Shiu et al. (Nature 2024):
#:   v_rest = v_reset = -52 mV, threshold -45 mV, tau_m 20 ms, tau_syn 5 ms,
#:   refractory 2.2 ms (0 for Poisson-driven neurons), delay 1.8 ms, dt 0.1 ms,
#:   0.275 mV per synapse, Poisson input weight 250 x 0.275 mV.
#: - ``cuba``: the classic Brian2 CUBA benchmark (Vogels & Abbott 2005 network):
#:   El -49 mV, reset -60 mV, threshold -50 mV, tau_m 20 ms, tau_e 5 ms, tau_i
#:   10 ms, refractory 5 ms, no delay, we = 1.62 mV, wi = 9 mV; synapses keep
#:   decaying during the refractory period and are not reset by a spike.
#: - ``celegans-lif``: the fly parameters with 1.0 mV per chemical synapse and
#:   gap junctions (``w_gap`` 0.005 per junction), for the C. elegans graph,
#:   whose in-degrees are ~10x lower than the fly's. Chosen by a scan so that
#:   driving the six touch receptors at 50 Hz makes the command interneurons
#:   fire at ~2-20 Hz rather than not at all (w_gap >= 0.01 shunts the drive
#:   away) or at saturation (w_syn >= 1.5): refit with :func:`fit_synaptic_scale`
#:   for other drives.
PRESETS: dict[str, LIFParameters] = {
    "flywire-lif": LIFParameters(),
    "cuba": LIFParameters(
        v_rest=-49.0, v_reset=-60.0, v_threshold=-50.0, tau_m=20e-3, tau_syn=5e-3, tau_syn_inh=10e-3,
        refractory=5e-3, delay=0.0, dt=0.1e-3, w_syn=60 * 0.27 / 10, w_syn_inh=20 * 4.5 / 10,
        input_refractory=None, input_weight=60 * 0.27 / 10, freeze_synapses_when_refractory=False,
        reset_synapses=False,
    ),
    "celegans-lif": LIFParameters(w_syn=1.0, w_gap=0.005),
}


def get_preset(name: str | LIFParameters) -> LIFParameters:
    """A preset by name (see :data:`PRESETS`), or the parameters unchanged."""
    if isinstance(name, LIFParameters):
        return name
    key = str(name).strip().lower()
    if key not in PRESETS:
        raise NeuralscopeError("preset", f"one of {sorted(PRESETS)}", name)
    return PRESETS[key]


def lif_rate(amplitude: float, params: LIFParameters, *, discrete: bool = False) -> float:
    """Firing rate (Hz) of one LIF neuron under a constant input of ``amplitude`` mV.

    Continuous time: ``1 / (refractory + tau_m ln((I - u_r) / (I - theta)))``
    with potentials relative to rest. ``discrete=True`` gives the exact rate of
    the simulator's scheme (a spike is registered at the end of the step in
    which ``v`` crosses; the refractory period freezes ``refractory/dt - 1``
    further steps).
    """
    theta = params.v_threshold - params.v_rest
    u_r = params.v_reset - params.v_rest
    if amplitude <= theta:
        return 0.0
    t_cross = params.tau_m * math.log((amplitude - u_r) / (amplitude - theta))
    if not discrete:
        return 1.0 / (params.refractory + t_cross)
    steps = math.floor(t_cross / params.dt) + 1 + max(params.refractory_steps - 1, 0)
    return 1.0 / (steps * params.dt)
