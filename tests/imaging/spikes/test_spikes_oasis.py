"""OASIS-class deconvolution against exact solutions and known ground truth."""

import numpy as np
import pytest
from scipy.optimize import minimize

from neuralscope.core.errors import NeuralscopeError
from neuralscope.datasets.calcium import simulate_calcium_traces
from neuralscope.imaging.spikes import OasisDeconvolution, oasis_deconvolve, spike_correlation
from neuralscope.imaging.spikes.oasis import estimate_noise, estimate_time_constants, oasis_ar1


def _ar1_trace(s, g):
    c = np.zeros_like(s)
    for t in range(s.size):
        c[t] = (g * c[t - 1] if t else 0.0) + s[t]
    return c


def test_noise_free_trace_gives_back_its_spikes():
    rng = np.random.default_rng(0)
    s = (rng.random(300) < 0.05) * rng.uniform(0.5, 2.0, 300)
    c_true = _ar1_trace(s, 0.9)
    c, s_hat = oasis_ar1(c_true, 0.9, lam=0.0)
    np.testing.assert_allclose(c, c_true, atol=1e-10)
    np.testing.assert_allclose(s_hat, s, atol=1e-10)


@pytest.mark.parametrize("lam", [0.0, 0.3, 1.0])
def test_matches_a_generic_bounded_solver(lam):
    rng = np.random.default_rng(1)
    g, n = 0.85, 60
    s = (rng.random(n) < 0.1) * 1.0
    y = _ar1_trace(s, g) + 0.2 * rng.standard_normal(n)
    kernel = np.array([[g ** (i - j) if i >= j else 0.0 for j in range(n)] for i in range(n)])

    def objective(x):
        r = kernel @ x - y
        return 0.5 * r @ r + lam * x.sum(), kernel.T @ r + lam

    ref = minimize(objective, np.zeros(n), jac=True, bounds=[(0, None)] * n, method="L-BFGS-B",
                   options={"ftol": 1e-14, "gtol": 1e-10, "maxiter": 5000})
    c, s_hat = oasis_ar1(y, g, lam=lam)
    assert objective(s_hat)[0] <= ref.fun + 1e-6
    np.testing.assert_allclose(c, kernel @ ref.x, atol=2e-3)


def test_noise_and_time_constant_estimates():
    sim = simulate_calcium_traces(n_neurons=4, duration=120, fs=30, indicator="GCaMP6s", noise_level=2.0,
                                  random_state=2)
    sigma = np.std(sim.dff - sim.calcium, axis=1)
    np.testing.assert_allclose([estimate_noise(x) for x in sim.dff], sigma, rtol=0.05)
    rng = np.random.default_rng(2)
    sigma, g = 0.1, 0.95
    s = (rng.random(20000) < 0.03) * 1.0
    y = _ar1_trace(s, g) + sigma * rng.standard_normal(s.size)
    assert estimate_time_constants(y, p=1)[0] == pytest.approx(g, abs=0.01)
    g2 = estimate_time_constants(y, p=2)
    assert g2.sum() == pytest.approx(g, abs=0.03)  # an AR(1) process seen as AR(2): g1 + g2 ~ g


@pytest.mark.parametrize("p,indicator,min_r", [(1, "GCaMP8m", 0.75), (2, "GCaMP6s", 0.5)])
def test_noise_constraint_holds_and_spikes_follow_truth(p, indicator, min_r):
    sim = simulate_calcium_traces(n_neurons=8, duration=60, fs=30, indicator=indicator, noise_level=1.0,
                                  rate=0.5, random_state=4)
    est = OasisDeconvolution(p=p).fit(sim.dff)
    resid = sim.dff - est.calcium_ - est.baseline_[:, None]
    rms = np.sqrt(np.mean(resid**2, axis=1))
    if p == 1:  # where a penalty was needed, the residual equals the noise (AR(2): in the rise-filtered domain)
        sparse = est.lam_ > 0
        assert sparse.sum() >= 4
        np.testing.assert_allclose(rms[sparse], est.sigma_[sparse], rtol=0.02)
    r = spike_correlation(est.spikes_, sim.spikes, 30.0, bin_width=0.1)
    assert np.mean(r) > min_r
    assert np.all(est.spikes_ >= 0)


def test_same_input_same_output_and_transform():
    sim = simulate_calcium_traces(n_neurons=3, duration=20, fs=30, random_state=5)
    a = OasisDeconvolution().fit(sim.dff)
    np.testing.assert_array_equal(a.spikes_, OasisDeconvolution().fit(sim.dff).spikes_)
    np.testing.assert_allclose(a.transform(sim.dff), a.spikes_)
    with pytest.raises(NeuralscopeError):
        a.transform(sim.dff[:2])


@pytest.mark.parametrize("bad", [np.array([1.0, np.nan, 2.0, 3.0, 4.0]), np.zeros((2, 2, 5)), np.zeros(2)])
def test_bad_traces_raise(bad):
    with pytest.raises(NeuralscopeError):
        OasisDeconvolution().fit(bad)
    with pytest.raises(NeuralscopeError):
        oasis_deconvolve(np.ravel(bad) if bad.ndim == 3 else bad, p=3)
