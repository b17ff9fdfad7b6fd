"""neuralscope: a computational microscope for neuroscience.

One API and CLI from the data a lab has (spike trains, population activity,
behaviour, imaging, connectomes) to what it wants to know.

Sub-packages, one per capability, all speaking :mod:`neuralscope.core`:

- :mod:`neuralscope.core` -- data objects and input validation
- :mod:`neuralscope.io` -- NWB, ``.npz``, ``.mat`` and ``.csv`` readers/writers
- :mod:`neuralscope.datasets` -- seeded simulators with ground truth
- :mod:`neuralscope.decoding` -- scikit-learn compatible decoders and their evaluation
- :mod:`neuralscope.report` -- HTML reports with inline figures
"""

from neuralscope.core import (
    ContinuousActivity,
    NeuralscopeError,
    SpikeTrains,
    TrialActivity,
)

__version__ = "0.1.0"

__all__ = [
    "ContinuousActivity",
    "NeuralscopeError",
    "SpikeTrains",
    "TrialActivity",
    "__version__",
]
