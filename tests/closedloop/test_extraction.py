"""Online extraction equals the offline least-squares extraction on the same frames."""

import numpy as np
import pytest

from neuralscope.closedloop.extraction import OnlineExtractor, extract_traces, neuropil_pixel_indices
from neuralscope.closedloop.rig import SimulatedRig
from neuralscope.core.errors import NeuralscopeError


@pytest.fixture(scope="module")
def small_rig():
    rig = SimulatedRig(height=64, width=64, n_rois=12, n_frames=30, seed=2, motion_px=1.5)
    return rig, rig.render(30)


def _dense(rig):
    return rig.footprints.toarray().reshape(rig.n_rois, rig.height, rig.width)


@pytest.mark.parametrize("neuropil_coef", [0.0, 0.7])
def test_online_equals_offline_least_squares_integer_shifts(small_rig, neuropil_coef):
    rig, movie = small_rig
    shifts = np.round(rig.truth().shifts)  # integer shifts: bilinear and nearest sampling agree exactly
    fp = _dense(rig)
    ex = OnlineExtractor(fp, neuropil_coef=neuropil_coef, ridge=0.0)
    online = np.stack([ex.extract(f, s).copy() for f, s in zip(movie, shifts)], axis=1)
    offline = extract_traces(movie, fp, shifts=shifts, neuropil_coef=neuropil_coef)
    np.testing.assert_allclose(online, offline, rtol=1e-6, atol=1e-6 * np.abs(offline).max())


def test_online_equals_offline_subpixel_soma_term(small_rig):
    rig, movie = small_rig
    shifts = rig.truth().shifts  # sub-pixel: bilinear resampling in both
    ex = OnlineExtractor(rig.footprints, frame_shape=(64, 64), neuropil_coef=0.0, ridge=0.0)
    online = np.stack([ex.extract(f, s).copy() for f, s in zip(movie, shifts)], axis=1)
    offline = extract_traces(movie, _dense(rig), shifts=shifts, neuropil_coef=0.0)
    np.testing.assert_allclose(online, offline, rtol=1e-6, atol=1e-6 * np.abs(offline).max())


def test_overlapping_footprints_are_unmixed():
    h = w = 32
    yy, xx = np.mgrid[0:h, 0:w]
    a = np.exp(-((yy - 16) ** 2 + (xx - 13) ** 2) / 8.0)
    b = np.exp(-((yy - 16) ** 2 + (xx - 18) ** 2) / 8.0)  # overlaps a strongly
    fp = np.stack([a, b])
    ex = OnlineExtractor(fp, neuropil_coef=0.0)
    coef = ex.extract((3.0 * a + 5.0 * b).astype(np.float32))
    np.testing.assert_allclose(coef, [3.0, 5.0], rtol=1e-4)


def test_neuropil_masks_exclude_rois(small_rig):
    rig, _ = small_rig
    masks = neuropil_pixel_indices(rig.footprints, (64, 64), min_pixels=60)
    roi_pixels = set(rig.footprints.indices.tolist())
    for m in masks:
        assert 60 <= len(m) <= 100
        assert not roi_pixels.intersection(m.tolist())


def test_bad_footprints():
    with pytest.raises(NeuralscopeError):
        OnlineExtractor(np.zeros((2, 8, 8)))
    with pytest.raises(NeuralscopeError):
        OnlineExtractor(-np.ones((1, 8, 8)))
    with pytest.raises(NeuralscopeError):
        OnlineExtractor(np.ones((8, 8)))
    ex = OnlineExtractor(np.ones((1, 8, 8)), neuropil_coef=0.0)
    with pytest.raises(NeuralscopeError):
        ex.extract(np.zeros((9, 9)))
