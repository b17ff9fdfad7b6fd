"""A closed-loop session from a configuration (a YAML file or a dict).

Schema (every key optional unless marked)::

    seed: 0
    realtime: true              # false: as fast as possible
    frames: 3000                # stop after this many frames
    source:                     # required
      kind: simulated           # or: file
      # simulated: any SimulatedRig argument (height, width, n_rois, fs, motion_px, noise, ...)
      # file: path (required; .tif/.tiff/.zarr/.npy/.h5), fs (required), rois (required: .npz with
      #       footprints, n x H x W), reference (.npy image; default: built from the first frames),
      #       reference_frames: 100, dataset
    calibration_frames: 600     # simulated: a separate session for the reference and the decoder
    pipeline: {register: true, registration: {}, extraction: {}, dff: {}, deconvolution: {},
               decoder_input: calcium}
    decoder:                    # optional
      kind: logistic            # simulated: fitted on the calibration session's hidden state
      weights: dec.npz          # or: a linear decoder (coef, intercept[, classes])
      smoothing_frames: 0
    policies:                   # list; kinds: threshold, decoded-state, bo
      - {kind: threshold, threshold: 0.5, rois: [0, 1], signal: dff, combine: mean, refractory_s: 1.0,
         stimulus: {targets: [2], rate_hz: 30, duration_s: 0.3}}
      - {kind: decoded-state, target: 1, hold_frames: 3, refractory_s: 2.0, stimulus: {...}}
      - {kind: bo, parameters: [{name: orientation, type: float, bounds: [0, 180]}], rois: [5],
         baseline_s: 0.5, response_s: 1.0, gap_s: 1.0, initial: 5, n_trials: 40,
         stimulus: {contrast: 1.0, duration_s: 0.5}}

With a simulated source, stimuli act on the rig's neurons; with a file
source they are logged (the Python API takes any ``stimulator`` callback).

Relative paths are relative to the configuration file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError

TOP_KEYS = {"seed", "realtime", "frames", "source", "calibration_frames", "pipeline", "decoder", "policies"}
RIG_KEYS = {"height", "width", "n_rois", "fs", "motion_px", "tau_s", "base_rate_hz", "state_fraction", "state_gain",
            "state_dwell_s", "spike_amplitude", "brightness", "noise", "n_frames"}
FILE_KEYS = {"path", "fs", "rois", "reference", "reference_frames", "dataset"}
PIPELINE_KEYS = {"register", "registration", "extraction", "dff", "deconvolution", "decoder_input"}
DECODER_KEYS = {"kind", "weights", "smoothing_frames", "C"}
POLICY_KEYS = {
    "threshold": {"kind", "threshold", "rois", "signal", "combine", "refractory_s", "stimulus"},
    "decoded-state": {"kind", "target", "hold_frames", "refractory_s", "stimulus"},
    "bo": {"kind", "parameters", "rois", "signal", "baseline_s", "response_s", "gap_s", "stimulus", "n_trials", "seed",
           "initial", "isolation"},
}

DEMO_CONFIG: dict = {
    "seed": 0,
    "realtime": True,
    "frames": 3000,
    "source": {"kind": "simulated", "height": 512, "width": 512, "n_rois": 300, "fs": 30.0},
    "calibration_frames": 600,
    "decoder": {"kind": "logistic"},
    "policies": [
        {"kind": "decoded-state", "target": 1, "hold_frames": 3, "refractory_s": 2.0,
         "stimulus": {"targets": [0, 1, 2, 3, 4], "rate_hz": 20.0, "duration_s": 0.3}},
        {"kind": "threshold", "threshold": 1.0, "rois": [10], "signal": "dff", "refractory_s": 1.0,
         "stimulus": {"targets": [11], "rate_hz": 20.0, "duration_s": 0.2}},
        {"kind": "bo", "parameters": [{"name": "orientation", "type": "float", "bounds": [0.0, 180.0]}],
         "rois": list(range(20, 30)), "baseline_s": 0.5, "response_s": 1.0, "gap_s": 1.0, "initial": 5,
         "stimulus": {"contrast": 1.0, "duration_s": 0.5}},
    ],
}


def _check_keys(section: str, given: Any, allowed: set[str]) -> dict:
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise NeuralscopeError(f"config.{section}", "a mapping", type(given).__name__)
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise NeuralscopeError(f"config.{section}", f"keys among {sorted(allowed)}", f"unknown key(s) {unknown}")
    return dict(given)


def load_config(path: str | Path) -> tuple[dict, Path]:
    """Read a YAML (or JSON) configuration; returns it and the folder relative paths refer to."""
    from neuralscope.io.config import read_yaml_mapping

    config = read_yaml_mapping(path, "a YAML mapping (source:, policies:, ...)")
    return config, Path(path).resolve().parent


@dataclass
class Session:
    """A ready-to-run loop and what is known about it."""

    runner: Any
    source: Any
    pipeline: Any
    config: dict
    info: dict = field(default_factory=dict)
    rig: Any = None

    def close(self) -> None:
        """Stop a rig worker process / close a movie file (scores from ``rig.truth()`` stay available)."""
        close = getattr(self.source, "close", None)
        if close is not None:
            close()


def _int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise NeuralscopeError(name, f"an integer >= {minimum}", value)
    return int(value)


def _resolve(base: Path, value: Any, name: str) -> Path:
    if not isinstance(value, (str, Path)) or not str(value):
        raise NeuralscopeError(name, "a file path", value)
    p = Path(value)
    return p if p.is_absolute() else base / p


def _load_footprints(path: Path):
    if not path.is_file():
        raise NeuralscopeError("source.rois", "an existing .npz with footprints (n x H x W)", str(path))
    try:
        with np.load(path, allow_pickle=False) as z:
            if "footprints" not in z:
                raise NeuralscopeError("source.rois", "an .npz with a 'footprints' array", sorted(z.files))
            fp = np.asarray(z["footprints"])
    except NeuralscopeError:
        raise
    except Exception as exc:
        raise NeuralscopeError("source.rois", "a readable .npz", f"{path.name}: {type(exc).__name__}") from exc
    import scipy.sparse as sp

    if fp.ndim != 3:
        raise NeuralscopeError("source.rois footprints", "an (n, H, W) array", fp.shape)
    return sp.csr_matrix(fp.reshape(fp.shape[0], -1).astype(np.float64)), fp.shape[1:]


def _policies(specs: Any, seed: int) -> list:
    from neuralscope.closedloop.policies import BOStimulusPolicy, DecodedStateTrigger, ThresholdTrigger

    if specs is None:
        return []
    if not isinstance(specs, list):
        raise NeuralscopeError("config.policies", "a list of {kind: ...}", type(specs).__name__)
    out = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict) or spec.get("kind") not in POLICY_KEYS:
            raise NeuralscopeError(f"config.policies[{i}].kind", f"one of {sorted(POLICY_KEYS)}",
                                   spec.get("kind") if isinstance(spec, dict) else spec)
        kw = _check_keys(f"policies[{i}]", spec, POLICY_KEYS[spec["kind"]])
        kind = kw.pop("kind")
        try:
            if kind == "threshold":
                if "threshold" not in kw:
                    raise NeuralscopeError(f"config.policies[{i}].threshold", "a number", "missing")
                out.append(ThresholdTrigger(**kw))
            elif kind == "decoded-state":
                out.append(DecodedStateTrigger(**kw))
            else:
                kw.setdefault("seed", seed)
                if "parameters" not in kw:
                    raise NeuralscopeError(f"config.policies[{i}].parameters", "a list of parameters", "missing")
                out.append(BOStimulusPolicy(**kw))
        except (TypeError, ValueError) as exc:
            if isinstance(exc, NeuralscopeError):
                raise
            raise NeuralscopeError(f"config.policies[{i}]", "valid policy settings", str(exc)) from exc
    return out


def _fit_logistic(pipeline_factory, frames: np.ndarray, state: np.ndarray, decoder_input: str, C: float, seed: int):
    """Run the pipeline over calibration frames and fit a logistic decoder of the hidden state."""
    from sklearn.linear_model import LogisticRegression

    pipe = pipeline_factory(None)
    X = np.empty((len(frames), pipe.n_rois_))
    for k, f in enumerate(frames):
        s = pipe.process(f)
        X[k] = {"calcium": s.calcium, "dff": s.dff, "spikes": s.spikes, "F": s.F}[decoder_input]
    warm = int(pipe.dff.n_warmup_)
    Xw, yw = X[warm:], state[warm:]
    if np.unique(yw).size < 2:
        raise NeuralscopeError("calibration_frames", "enough frames to see both hidden states", len(frames))
    split = int(0.7 * len(Xw))
    held_out = float("nan")  # a check on the last 30 % of the calibration, when both parts see both states
    if np.unique(yw[:split]).size == 2 and split < len(Xw):
        check = LogisticRegression(C=C, max_iter=500, random_state=seed).fit(Xw[:split], yw[:split])
        held_out = float(check.score(Xw[split:], yw[split:]))
    model = LogisticRegression(C=C, max_iter=500, random_state=seed).fit(Xw, yw)
    return model, held_out


def build_session(config: dict, base: Path | None = None, *, frames: int | None = None, realtime: bool | None = None,
                  seed: int | None = None, progress=None) -> Session:
    """Build the source, pipeline, policies and runner a configuration describes."""
    from neuralscope.closedloop.pipeline import DECODER_INPUTS, OnlinePipeline
    from neuralscope.closedloop.registration import build_reference
    from neuralscope.closedloop.runner import LoopRunner

    say = progress or (lambda m: None)
    base = base or Path.cwd()
    cfg = _check_keys("", config, TOP_KEYS)
    seed = int(cfg.get("seed", 0) if seed is None else seed)
    rt = bool(cfg.get("realtime", True)) if realtime is None else bool(realtime)
    limit = frames if frames is not None else cfg.get("frames")
    if limit is not None:
        limit = _int("frames", limit)
    src_cfg = cfg.get("source")
    if not isinstance(src_cfg, dict) or src_cfg.get("kind") not in ("simulated", "file"):
        raise NeuralscopeError("config.source.kind", "simulated or file",
                               src_cfg.get("kind") if isinstance(src_cfg, dict) else src_cfg)
    pipe_cfg = _check_keys("pipeline", cfg.get("pipeline"), PIPELINE_KEYS)
    decoder_input = pipe_cfg.pop("decoder_input", "calcium")
    if decoder_input not in DECODER_INPUTS:
        raise NeuralscopeError("config.pipeline.decoder_input", f"one of {DECODER_INPUTS}", decoder_input)
    for key in ("registration", "extraction", "dff", "deconvolution"):
        if pipe_cfg.get(key) is not None and not isinstance(pipe_cfg[key], dict):
            raise NeuralscopeError(f"config.pipeline.{key}", "a mapping of settings", pipe_cfg[key])
    dec_cfg = _check_keys("decoder", cfg.get("decoder"), DECODER_KEYS)
    policies = _policies(cfg.get("policies"), seed)
    info: dict = {"seed": seed}
    rig = None
    kind = src_cfg["kind"]
    if kind == "simulated":
        from neuralscope.closedloop.rig import SimulatedRig

        rig_kw = _check_keys("source", {k: v for k, v in src_cfg.items() if k != "kind"}, RIG_KEYS)
        n_total = limit or _int("source.n_frames", rig_kw.pop("n_frames", 3000))
        rig_kw.pop("n_frames", None)
        try:
            rig = SimulatedRig(n_frames=n_total, seed=seed, **rig_kw)
        except TypeError as exc:
            raise NeuralscopeError("config.source", "SimulatedRig settings", str(exc)) from exc
        footprints, fs = rig.footprints, rig.fs
        n_cal = _int("calibration_frames", cfg.get("calibration_frames", 600), 30)
        say(f"calibration session: {n_cal} frames of {rig.height} x {rig.width}, {rig.n_rois} cells")
        cal = rig.calibration_session(n_cal)
        cal_frames = cal.render(n_cal)
        reference = build_reference(cal_frames[: min(100, n_cal)])
        info["source"] = {"kind": "simulated", "height": rig.height, "width": rig.width, "n_rois": rig.n_rois, "fs": fs}
    else:
        from neuralscope.closedloop.sources import FileSource

        fcfg = _check_keys("source", {k: v for k, v in src_cfg.items() if k != "kind"}, FILE_KEYS)
        for req in ("path", "fs", "rois"):
            if req not in fcfg:
                raise NeuralscopeError(f"config.source.{req}", "a value (required for a file source)", "missing")
        source = FileSource(_resolve(base, fcfg["path"], "source.path"), fcfg["fs"], dataset=fcfg.get("dataset"),
                            n_frames=limit)
        footprints, shape = _load_footprints(_resolve(base, fcfg["rois"], "source.rois"))
        if tuple(shape) != source.frame_shape:
            raise NeuralscopeError("source.rois", f"footprints of the movie's frame shape {source.frame_shape}", shape)
        fs = source.fs
        if "reference" in fcfg:
            ref_path = _resolve(base, fcfg["reference"], "source.reference")
            if not ref_path.is_file():
                raise NeuralscopeError("source.reference", "an existing .npy image", str(ref_path))
            reference = np.load(ref_path, allow_pickle=False).astype(np.float32)
        else:
            n_ref = _int("source.reference_frames", fcfg.get("reference_frames", 100))
            reference = build_reference(source.first_frames(n_ref))
        if reference.shape != source.frame_shape:
            raise NeuralscopeError("source.reference", f"an image of shape {source.frame_shape}", reference.shape)
        cal_frames = None
        info["source"] = {"kind": "file", "path": str(source.path), "fs": fs, "n_rois": int(footprints.shape[0])}

    def factory(decoder):
        try:
            return OnlinePipeline(reference, footprints, fs, decoder=decoder, decoder_input=decoder_input, **pipe_cfg)
        except TypeError as exc:
            raise NeuralscopeError("config.pipeline", "valid stage settings", str(exc)) from exc

    decoder = None
    if dec_cfg:
        from neuralscope.closedloop.decoder import StreamingDecoder

        smoothing = float(dec_cfg.get("smoothing_frames", 0.0))
        if "weights" in dec_cfg:
            decoder = StreamingDecoder(_linear_from_npz(_resolve(base, dec_cfg["weights"], "decoder.weights")), smoothing)
        elif dec_cfg.get("kind", "logistic") == "logistic":
            if rig is None:
                raise NeuralscopeError("config.decoder", "weights: FILE.npz for a file source", "kind: logistic")
            say("fitting the decoder on the calibration session")
            model, held_out = _fit_logistic(factory, cal_frames, cal.true_state, decoder_input,
                                            float(dec_cfg.get("C", 1.0)), seed)
            decoder = StreamingDecoder(model, smoothing)
            info["decoder"] = {"kind": "logistic", "calibration_frames": len(cal_frames),
                               "calibration_heldout_accuracy": held_out}
        else:
            raise NeuralscopeError("config.decoder.kind", "logistic (or weights: FILE.npz)", dec_cfg.get("kind"))
    if any(type(p).__name__ == "DecodedStateTrigger" for p in policies) and decoder is None:
        raise NeuralscopeError("config.decoder", "a decoder for the decoded-state policy", "none configured")
    pipeline = factory(decoder)
    pipeline.warmup_jit()
    if rig is not None:
        if rt:  # real time: the rig renders in its own process, as acquisition hardware would
            from neuralscope.closedloop.rig_process import RigProcess

            rig = RigProcess(rig)
        source = rig
    runner = LoopRunner(source, pipeline, policies, realtime=rt, n_frames=limit)
    info.update({"frames_requested": limit or source.n_frames, "realtime": rt,
                 "policies": [p.name for p in policies]})
    return Session(runner, source, pipeline, cfg, info, rig)


def _linear_from_npz(path: Path):
    """A linear decoder stored as arrays (no pickle): ``coef`` (k x n), ``intercept`` (k,), optional ``classes``."""
    if not path.is_file():
        raise NeuralscopeError("decoder.weights", "an existing .npz (coef, intercept[, classes])", str(path))
    with np.load(path, allow_pickle=False) as z:
        if "coef" not in z or "intercept" not in z:
            raise NeuralscopeError("decoder.weights", "arrays coef and intercept", sorted(z.files))

        class _Linear:
            coef_ = np.atleast_2d(z["coef"]).astype(float)
            intercept_ = np.atleast_1d(z["intercept"]).astype(float)
            classes_ = z["classes"] if "classes" in z else None

            def predict(self, X):  # pragma: no cover - the streaming fast path is used
                return X @ self.coef_.T + self.intercept_

    model = _Linear()
    if not np.isfinite(model.coef_).all() or not math.isfinite(float(np.sum(model.intercept_))):
        raise NeuralscopeError("decoder.weights", "finite coefficients", "NaN or inf")
    return model
