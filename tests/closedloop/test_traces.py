"""Online dF/F and online deconvolution track the ground truth."""

import numpy as np
import pytest

from neuralscope.closedloop.traces import OnlineDeconvolver, OnlineDFF
from neuralscope.core.errors import NeuralscopeError


def _simulate(n=20, t=6000, fs=30.0, tau=0.7, rate=0.5, amp=0.6, noise=0.03, seed=0):
    """Poisson spikes, AR(1) calcium, a 20 % bleaching ramp with a 3 % wobble, Gaussian noise."""
    rng = np.random.default_rng(seed)
    spikes = rng.poisson(rate / fs, size=(t, n)).astype(float)
    g = np.exp(-1 / (fs * tau))
    ca = np.zeros((t, n))
    for k in range(1, t):
        ca[k] = g * ca[k - 1] + amp * spikes[k]
    time = np.arange(t) / fs
    f0 = 100.0 * rng.uniform(0.5, 2.0, n) * (1 - 0.2 * time / time[-1] + 0.03 * np.sin(2 * np.pi * time / 40))[:, None]
    F = f0 * (1 + ca) + noise * f0 * rng.standard_normal((t, n))
    return F, f0, ca, spikes, fs


def test_dff_tracks_true_dff_and_baseline():
    F, f0, ca, _, fs = _simulate()
    dff = OnlineDFF(fs)
    out, base = [], []
    for f in F:
        out.append(dff.update(f).copy())
        base.append(dff.baseline_.copy())
    out, base = np.array(out), np.array(base)
    skip = int(5 * fs)
    corr = [np.corrcoef(out[skip:, i], ca[skip:, i])[0, 1] for i in range(F.shape[1])]
    assert np.min(corr) > 0.95, np.min(corr)
    # The baseline follows the 20 % bleaching to within a few per cent.
    rel = np.abs(base[skip:] / f0[skip:] - 1)
    assert np.median(rel) < 0.03, np.median(rel)
    assert np.percentile(rel, 90) < 0.09
    assert dff.warm


def test_dff_is_causal_and_deterministic():
    F, *_ , fs = _simulate(n=5, t=600)
    a = OnlineDFF(fs)
    b = OnlineDFF(fs)
    first = np.stack([a.update(f).copy() for f in F])
    second = np.stack([b.update(f).copy() for f in F[:300]])
    np.testing.assert_array_equal(first[:300], second)  # the future does not change the past


def test_deconvolution_finds_spikes():
    F, f0, ca, spikes, fs = _simulate(noise=0.04)
    dff = OnlineDFF(fs)
    dec = OnlineDeconvolver(fs, tau_s=0.7, threshold=3.0)
    est = np.zeros_like(spikes)
    calcium = np.zeros_like(ca)
    for k, f in enumerate(F):
        est[k] = dec.update(dff.update(f))
        calcium[k] = dec.calcium_
    skip = int(5 * fs)
    # Spikes compared in 100 ms bins (3 frames): causal detection may land one frame late.
    def binned(x):
        x = x[skip: skip + (len(x) - skip) // 3 * 3]
        return x.reshape(-1, 3, x.shape[1]).sum(1)
    b_est, b_true = binned(est), binned(spikes)
    corr = [np.corrcoef(b_est[:, i], b_true[:, i])[0, 1] for i in range(F.shape[1])]
    assert np.median(corr) > 0.8, np.median(corr)
    ca_corr = [np.corrcoef(calcium[skip:, i], ca[skip:, i])[0, 1] for i in range(F.shape[1])]
    assert np.median(ca_corr) > 0.95
    # Few false positives: detected spikes per frame within 25 % of the truth.
    assert abs((est[skip:] > 0).sum() / (spikes[skip:] > 0).sum() - 1) < 0.25
    # The online noise estimate matches the true dF/F noise (0.04) within 25 %.
    assert np.median(np.abs(dec.sigma_ / 0.04 - 1)) < 0.25


def test_bad_parameters():
    with pytest.raises(NeuralscopeError):
        OnlineDFF(0.0)
    with pytest.raises(NeuralscopeError):
        OnlineDFF(30.0, quantile=1.5)
    with pytest.raises(NeuralscopeError):
        OnlineDeconvolver(30.0, tau_s=-1)


def test_partial_sort_quantile_equals_numpy():
    from neuralscope.closedloop.traces import _quantile

    x = np.random.default_rng(0).normal(size=(37, 11))
    for m in (1, 2, 5, 37):
        for q in (0.0, 0.1, 0.5, 0.93):
            np.testing.assert_allclose(_quantile(x[:m], q), np.quantile(x[:m], q, axis=0), rtol=1e-12)
