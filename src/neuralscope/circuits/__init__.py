"""Simulate the system: spiking circuit models built from a connectome.

- :class:`LIFNetwork` -- a connectome as a current-based LIF network (torch,
  event-driven, trials batched, CPU or GPU); :func:`simulate` runs one experiment
- :class:`LIFParameters`, :data:`PRESETS` -- parameters (``flywire-lif`` is the
  Shiu et al. 2024 whole-fly-brain model, ``cuba`` the Brian2 CUBA benchmark,
  ``celegans-lif`` the worm); :func:`lif_rate` the analytic single-neuron rate
- :class:`Experiment` -- activate / silence / scale / inject, as data
- :class:`SimulationResult` -- spikes (t, trial, neuron), rates with confidence
  intervals, perturbed-versus-control differences
- :func:`fit_synaptic_scale` -- fit the global synaptic weight to a target rate
- :func:`load_celegans`, :func:`synthetic_connectome`, :func:`cuba_connectome` -- networks
"""

from neuralscope.circuits.celegans import load_celegans
from neuralscope.circuits.engine import LIFNetwork, default_device, simulate
from neuralscope.circuits.experiment import Activation, Current, Experiment, Scale
from neuralscope.circuits.fitting import ScaleFit, fit_synaptic_scale
from neuralscope.circuits.params import PRESETS, LIFParameters, get_preset, lif_rate
from neuralscope.circuits.results import SimulationResult
from neuralscope.circuits.synthetic import cuba_connectome, synthetic_connectome

__all__ = [
    "PRESETS",
    "Activation",
    "Current",
    "Experiment",
    "LIFNetwork",
    "LIFParameters",
    "Scale",
    "ScaleFit",
    "SimulationResult",
    "cuba_connectome",
    "default_device",
    "fit_synaptic_scale",
    "get_preset",
    "lif_rate",
    "load_celegans",
    "simulate",
    "synthetic_connectome",
]
