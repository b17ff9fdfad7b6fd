"""Real-time closed loop: online imaging, streaming decoding, policies and stimulation.

- :class:`OnlinePipeline`: per-frame rigid registration (:class:`OnlineRegistration`),
  ROI extraction with neuropil (:class:`OnlineExtractor`), running-baseline dF/F
  (:class:`OnlineDFF`), causal AR(1) deconvolution (:class:`OnlineDeconvolver`) and a
  :class:`StreamingDecoder`, every stage timed.
- Sources: :class:`SimulatedRig` (neurons, motion, stimulation, ground truth),
  :class:`FileSource` (TIFF / zarr / npy / HDF5 replayed at its frame rate), :class:`ArraySource`.
- Policies: :class:`ThresholdTrigger`, :class:`DecodedStateTrigger`, :class:`BOStimulusPolicy`.
- :class:`LoopRunner`: monotonic-clock pacing (or as fast as possible), a timestamped
  decision log, deadline misses counted; :func:`build_session` from a YAML configuration.
"""

from neuralscope.closedloop.decoder import StreamingDecoder
from neuralscope.closedloop.extraction import OnlineExtractor, extract_traces, neuropil_pixel_indices
from neuralscope.closedloop.pipeline import STAGES, FrameState, OnlinePipeline
from neuralscope.closedloop.policies import (
    BOStimulusPolicy,
    Decision,
    DecodedStateTrigger,
    Policy,
    RandomSearch,
    ThresholdTrigger,
)
from neuralscope.closedloop.registration import OnlineRegistration, build_reference, fourier_shift
from neuralscope.closedloop.rig import SimulatedRig
from neuralscope.closedloop.runner import LoopResult, LoopRunner
from neuralscope.closedloop.session import DEMO_CONFIG, Session, build_session, load_config
from neuralscope.closedloop.sources import ArraySource, FileSource
from neuralscope.closedloop.traces import OnlineDeconvolver, OnlineDFF

__all__ = [
    "DEMO_CONFIG", "STAGES", "ArraySource", "BOStimulusPolicy", "Decision", "DecodedStateTrigger", "FileSource",
    "FrameState", "LoopResult", "LoopRunner", "OnlineDFF", "OnlineDeconvolver", "OnlineExtractor", "OnlinePipeline",
    "OnlineRegistration", "Policy", "RandomSearch", "Session", "SimulatedRig", "StreamingDecoder", "ThresholdTrigger",
    "build_reference", "build_session", "extract_traces", "fourier_shift", "load_config", "neuropil_pixel_indices",
]
