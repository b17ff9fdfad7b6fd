"""Online registration recovers known rigid shifts."""

import numpy as np
import pytest

from neuralscope.closedloop.registration import OnlineRegistration, build_reference, fourier_shift
from neuralscope.closedloop.rig import SimulatedRig
from neuralscope.core.errors import NeuralscopeError


@pytest.fixture(scope="module")
def anatomy():
    rig = SimulatedRig(height=128, width=128, n_rois=20, n_frames=2, seed=3)
    return rig.static.astype(np.float32)


@pytest.mark.parametrize("patch", [96, None])
def test_recovers_subpixel_shifts_within_0_2_px(anatomy, patch):
    rng = np.random.default_rng(0)
    reg = OnlineRegistration(anatomy, patch=patch, max_shift=8)
    shifts = rng.uniform(-6, 6, size=(25, 2))
    errors = []
    for s in shifts:
        frame = fourier_shift(anatomy, s) + rng.normal(0, 0.05 * anatomy.std(), anatomy.shape).astype(np.float32)
        errors.append(np.subtract(reg.register(frame), s))
    errors = np.abs(np.array(errors))
    assert errors.max() < 0.2, errors.max()
    assert np.sqrt((errors ** 2).mean()) < 0.06


def test_sign_convention_matches_rig():
    """The rig moves content by +shift; registration reports that shift (up to the reference's offset)."""
    rig = SimulatedRig(height=96, width=96, n_rois=15, n_frames=40, seed=1, motion_px=2.0)
    frames = rig.render(40)
    reg = OnlineRegistration(rig.static.astype(np.float32), patch=None, max_shift=10)
    est = np.array([reg.register(f) for f in frames])
    err = np.abs(est - rig.truth().shifts)
    assert err.max() < 0.2, err.max()


def test_build_reference_and_bad_input(anatomy):
    rng = np.random.default_rng(1)
    frames = np.stack([fourier_shift(anatomy, s) for s in rng.uniform(-2, 2, size=(8, 2))])
    ref = build_reference(frames, n_iter=2, patch=None, max_shift=6)
    assert ref.shape == anatomy.shape and ref.dtype == np.float32
    # The aligned mean is sharper than the plain mean of moving frames.
    assert np.abs(np.diff(ref, axis=1)).mean() > np.abs(np.diff(frames.mean(0), axis=1)).mean()
    with pytest.raises(NeuralscopeError):
        OnlineRegistration(np.zeros((8, 8)))
    with pytest.raises(NeuralscopeError):
        OnlineRegistration(anatomy, patch=4)
    with pytest.raises(NeuralscopeError):
        OnlineRegistration(anatomy).register(np.zeros((10, 10), np.float32))


def test_pipeline_keeps_the_last_shift_on_a_corrupt_frame(anatomy):
    from neuralscope.closedloop.pipeline import OnlinePipeline

    fp = np.zeros((1,) + anatomy.shape)
    fp[0, 60:66, 60:66] = 1.0
    pipe = OnlinePipeline(anatomy, fp, 30.0, registration={"patch": None, "max_shift": 8})
    good = pipe.process(fourier_shift(anatomy, (1.5, -2.0)))
    bad = pipe.process(np.full(anatomy.shape, np.nan, np.float32))
    assert bad.shift == good.shift and pipe.registration_failures_ == 1
    assert np.isfinite(bad.F).all() and np.isfinite(bad.dff).all() and pipe.extraction_failures_ == 1
    after = pipe.process(fourier_shift(anatomy, (1.0, -1.0)))
    assert np.isfinite(after.calcium).all()
