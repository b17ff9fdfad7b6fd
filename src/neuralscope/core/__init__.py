"""Core data objects every neuralscope capability speaks.

- :class:`ContinuousActivity` -- (time x neurons) on a regular grid, with behaviour covariates
- :class:`TrialActivity` -- (trials x neurons x time) with a per-trial table of labels
- :class:`SpikeTrains` -- spike times per unit, binned to counts with :meth:`SpikeTrains.bin`
- :class:`Connectome` -- a signed, weighted wiring diagram (:func:`read_connectome` for CSV / parquet)
- :class:`NeuralscopeError` -- the one exception raised for invalid input
"""

from neuralscope.core.connectome import Connectome, read_connectome
from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.population import ContinuousActivity, TrialActivity
from neuralscope.core.spikes import SpikeTrains
from neuralscope.core.validation import (
    check_array,
    check_consistent_length,
    check_labels,
    check_positive,
)

__all__ = [
    "Connectome",
    "ContinuousActivity",
    "NeuralscopeError",
    "SpikeTrains",
    "TrialActivity",
    "check_array",
    "check_consistent_length",
    "check_labels",
    "check_positive",
    "read_connectome",
]
