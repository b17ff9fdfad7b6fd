"""Trace extraction: overlap demixing, neuropil annulus, dF/F baseline."""

import numpy as np
import pytest

from neuralscope.core.errors import NeuralscopeError
from neuralscope.imaging.traces import TraceExtractor, delta_f_over_f, neuropil_masks


def _disk(h, w, cy, cx, r):
    yy, xx = np.mgrid[:h, :w]
    return ((yy - cy) ** 2 + (xx - cx) ** 2 <= r**2).astype(np.float32)


def test_overlapping_cells_are_demixed():
    rng = np.random.default_rng(0)
    h = w = 48
    a = _disk(h, w, 24, 20, 6)
    b = _disk(h, w, 24, 28, 6)  # overlaps a by about a third
    t = 400
    ta = 1.0 + np.maximum(rng.standard_normal(t), 0) * 2
    tb = 1.0 + np.maximum(rng.standard_normal(t), 0) * 2
    movie = ta[:, None, None] * a + tb[:, None, None] * b + 0.01 * rng.standard_normal((t, h, w))
    ext = TraceExtractor(neuropil_coefficient=0.0).fit(np.stack([a, b]))
    tr = ext.transform(movie.astype(np.float32), fs=10.0)
    r_raw = np.corrcoef(tr.raw[0], tb)[0, 1]       # plain weighted mean leaks the neighbour in
    r_demix = np.corrcoef(tr.corrected[0], tb)[0, 1]
    r_true = np.corrcoef(ta, tb)[0, 1]
    assert r_raw > r_true + 0.15 and abs(r_demix - r_true) < 0.02
    np.testing.assert_allclose(tr.corrected[0], ta, rtol=0.02, atol=0.02)
    np.testing.assert_allclose(tr.corrected[1], tb, rtol=0.02, atol=0.02)


def test_neuropil_is_subtracted_with_the_stated_coefficient():
    h = w = 64
    cell = _disk(h, w, 32, 32, 5)
    t = 300
    rng = np.random.default_rng(1)
    npil = 1.0 + 0.5 * np.sin(np.arange(t) / 10.0)
    act = 2.0 + np.maximum(rng.standard_normal(t), 0)
    movie = npil[:, None, None] * np.ones((h, w)) * 0.7 + act[:, None, None] * cell
    ext = TraceExtractor(neuropil_coefficient=1.0).fit(cell[None])
    ring = neuropil_masks(cell[None])[0]
    assert ring.sum() > 50 and not (ring & (cell > 0)).any()
    tr = ext.transform(movie.astype(np.float32), fs=10.0)
    np.testing.assert_allclose(tr.neuropil[0], 0.7 * npil, rtol=1e-4)
    np.testing.assert_allclose(tr.corrected[0], act, rtol=1e-3)
    assert tr.neuropil_coefficient == 1.0


def test_dff_running_baseline():
    fs = 20.0
    t = np.arange(int(120 * fs)) / fs
    base = 100.0 * np.exp(-t / 200.0)  # bleaching
    events = np.zeros_like(t)
    events[::200] = 1.0
    from scipy.signal import lfilter

    calcium = lfilter([1.0], [1.0, -np.exp(-1 / (0.5 * fs))], events)
    f = base * (1.0 + 0.5 * calcium)
    dff, f0 = delta_f_over_f(f, fs, window_s=10.0)
    np.testing.assert_allclose(f0[0], base, rtol=0.04)
    assert np.corrcoef(dff[0], 0.5 * calcium)[0, 1] > 0.98
    with pytest.raises(NeuralscopeError, match="finite"):
        delta_f_over_f(np.array([1.0, np.nan, 2.0]), fs)
    with pytest.raises(NeuralscopeError, match="fs"):
        delta_f_over_f(f, 0.0)
