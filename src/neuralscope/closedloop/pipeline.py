"""The online imaging pipeline: frame in, state estimate out, timed per stage."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuralscope.closedloop.decoder import StreamingDecoder
from neuralscope.closedloop.extraction import OnlineExtractor, as_sparse_footprints
from neuralscope.closedloop.registration import OnlineRegistration
from neuralscope.closedloop.traces import OnlineDeconvolver, OnlineDFF
from neuralscope.core.errors import NeuralscopeError

STAGES = ("register", "extract", "dff", "deconvolve", "decode")
DECODER_INPUTS = ("calcium", "dff", "spikes", "F")


@dataclass
class FrameState:
    """What the pipeline knows after one frame (arrays are internal buffers, valid until the next frame)."""

    index: int
    shift: tuple[float, float]
    F: np.ndarray
    dff: np.ndarray
    calcium: np.ndarray
    spikes: np.ndarray
    warm: bool
    decoded: Any = None
    score: np.ndarray | None = None
    stage_seconds: np.ndarray = field(default_factory=lambda: np.zeros(len(STAGES)))


class OnlinePipeline:
    """Registration -> extraction -> dF/F -> deconvolution -> decoder, per frame.

    Parameters
    ----------
    reference : ndarray, shape (H, W)
        Motion-free reference image (see :func:`build_reference`).
    footprints : ndarray (n_rois, H, W) or sparse (n_rois, H*W)
        ROI weights in reference coordinates (e.g. ``rois.npz`` from
        ``neuralscope imaging run``).
    fs : float
        Frame rate (Hz).
    decoder : estimator or StreamingDecoder, optional
        Fitted decoder applied to ``decoder_input`` each frame.
    decoder_input : {"calcium", "dff", "spikes", "F"}
        Which per-ROI signal feeds the decoder.
    registration, extraction, dff, deconvolution : dict, optional
        Keyword arguments of :class:`OnlineRegistration`,
        :class:`OnlineExtractor`, :class:`OnlineDFF` and
        :class:`OnlineDeconvolver`.
    register : bool
        Set False for movies that are already registered.
    """

    def __init__(self, reference: np.ndarray, footprints: np.ndarray, fs: float, decoder: Any = None,
                 decoder_input: str = "calcium", registration: dict | None = None, extraction: dict | None = None,
                 dff: dict | None = None, deconvolution: dict | None = None, register: bool = True):
        if decoder_input not in DECODER_INPUTS:
            raise NeuralscopeError("decoder_input", f"one of {DECODER_INPUTS}", decoder_input)
        ref = np.asarray(reference)
        if ref.ndim != 2:
            raise NeuralscopeError("reference", "a 2-D image", ref.shape)
        fp, shape = as_sparse_footprints(footprints, ref.shape)
        if shape != ref.shape:
            raise NeuralscopeError("footprints", f"frames of the reference's shape {ref.shape}", shape)
        self.fs = float(fs)
        self.register = bool(register)
        self.registration = OnlineRegistration(ref, **(registration or {})) if register else None
        self.extractor = OnlineExtractor(fp, frame_shape=shape, **(extraction or {}))
        self.dff = OnlineDFF(fs, **(dff or {}))
        self.deconvolver = OnlineDeconvolver(fs, **(deconvolution or {}))
        if decoder is not None and not isinstance(decoder, StreamingDecoder):
            decoder = StreamingDecoder(decoder)
        self.decoder = decoder
        self.decoder_input = decoder_input
        self.n_rois_ = fp.shape[0]
        self.frame_shape_ = ref.shape
        self.n_frames_ = 0
        self.registration_failures_ = 0
        self.extraction_failures_ = 0
        self._last_F = np.zeros(self.extractor.n_rois_)
        self._last_shift = (0.0, 0.0)
        self._times = np.zeros(len(STAGES))

    def process(self, frame: np.ndarray) -> FrameState:
        """Run every stage on one frame; ``stage_seconds`` holds their durations."""
        clock = time.perf_counter
        times = self._times
        t0 = clock()
        shift = self.registration.register(frame) if self.register else (0.0, 0.0)
        if not (math.isfinite(shift[0]) and math.isfinite(shift[1])):  # a blank or corrupt frame
            shift = self._last_shift
            self.registration_failures_ += 1
        self._last_shift = shift
        t1 = clock()
        F = self.extractor.extract(frame, shift)
        if not np.isfinite(F).all():  # NaN pixels: hold the last value so no state is poisoned
            bad = ~np.isfinite(F)
            F[bad] = self._last_F[bad]
            self.extraction_failures_ += 1
        self._last_F[:] = F
        t2 = clock()
        dff = self.dff.update(F)
        t3 = clock()
        spikes = self.deconvolver.update(dff)
        t4 = clock()
        decoded = score = None
        if self.decoder is not None:
            signal = {"calcium": self.deconvolver.calcium_, "dff": dff, "spikes": spikes, "F": F}[self.decoder_input]
            decoded = self.decoder.update(signal)
            score = self.decoder.score_
        t5 = clock()
        times[0], times[1], times[2], times[3], times[4] = t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4
        state = FrameState(self.n_frames_, shift, F, dff, self.deconvolver.calcium_, spikes, self.dff.warm,
                           decoded, score, times)
        self.n_frames_ += 1
        return state

    def warmup_jit(self, dtypes: tuple = (np.float32, np.float64, np.uint16)) -> None:
        """Compile the numba kernels for these frame dtypes before the clock starts
        (a first call costs ~1 s); the trace state is not touched."""
        for dtype in dtypes:
            for writeable in (True, False):  # numba types read-only arrays (memory-mapped files) apart
                blank = np.zeros(self.frame_shape_, dtype=dtype)
                blank.setflags(write=writeable)
                if self.register:
                    self.registration.register(blank)
                self.extractor.extract(blank, (0.3, -0.2))
