"""NLB metrics (bits per spike, velocity R², PSTH R²), splits and the smoothing baseline."""

from __future__ import annotations

import numpy as np
import pytest

from neuralscope.core import ContinuousActivity, NeuralscopeError
from neuralscope.datasets.lorenz import simulate_lorenz_population
from neuralscope.manifold.nlb import (
    SpikeSmoothing,
    bits_per_spike,
    nlb_split,
    poisson_nll,
    pseudo_trials,
    psth_r2,
    velocity_r2,
)

# ----------------------------------------------------------------------------- bits per spike


def test_bits_per_spike_hand_computed():
    k = np.array([[[1.0, 3.0, 1.0, 3.0]]])  # one trial, one neuron; mean 2
    # model NLL (without log k!): sum(r - k ln r) = 8 - 6 ln 3; null: 8 - 8 ln 2
    expected = (6 * np.log(3) - 8 * np.log(2)) / (8 * np.log(2))
    assert bits_per_spike(k.copy(), k) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.18872, abs=1e-5)


def test_mean_rate_model_scores_zero_per_neuron():
    rng = np.random.default_rng(0)
    k = rng.poisson([[[0.2], [3.0]]], size=(10, 2, 30)).astype(float)
    null = np.broadcast_to(k.mean(axis=(0, 2), keepdims=True), k.shape)
    assert bits_per_spike(null, k) == pytest.approx(0.0, abs=1e-12)
    # The population mean is not the null: it predicts each neuron worse.
    assert bits_per_spike(np.full(k.shape, k.mean()), k) < -0.1


def test_true_rates_beat_the_null_and_wrong_rates_lose():
    rng = np.random.default_rng(1)
    rates = np.exp(rng.normal(-1.0, 1.0, size=(20, 5, 40)))
    k = rng.poisson(rates).astype(float)
    good = bits_per_spike(rates, k)
    assert good > 0.2
    shuffled = rates[rng.permutation(20)][:, :, rng.permutation(40)]
    assert bits_per_spike(shuffled, k) < 0
    assert bits_per_spike(2 * rates, k) < good  # mis-scaled rates lose likelihood
    # 2-D (samples, neurons) input gives the same as the 3-D layout flattened.
    def flat(x: np.ndarray) -> np.ndarray:
        return x.transpose(0, 2, 1).reshape(-1, 5)

    assert bits_per_spike(flat(rates), flat(k)) == pytest.approx(good)


def test_zero_rates_are_floored_not_infinite():
    k = np.array([[[0.0, 1.0, 0.0, 1.0]]])
    r = np.array([[[0.0, 1.0, 0.0, 0.0]]])
    assert np.isfinite(bits_per_spike(r, k)) and bits_per_spike(r, k) < -5
    assert poisson_nll(np.ones((2, 2)), np.zeros((2, 2))) == pytest.approx(4.0)


@pytest.mark.parametrize(
    "rates, spikes",
    [
        (np.ones((2, 3, 4)), np.ones((2, 3, 5))),  # shape mismatch
        (-np.ones((2, 3, 4)), np.ones((2, 3, 4))),  # negative rates
        (np.full((2, 3, 4), np.nan), np.ones((2, 3, 4))),  # NaN rates
        (np.ones((2, 3, 4)), np.full((2, 3, 4), 0.5)),  # non-integer counts
        (np.ones((2, 3, 4)), -np.ones((2, 3, 4))),  # negative counts
        (np.ones((2, 3, 4)), np.zeros((2, 3, 4))),  # no spikes: undefined
        (np.ones(4), np.ones(4)),  # 1-D
    ],
)
def test_bits_per_spike_rejects_bad_input(rates, spikes):
    with pytest.raises(NeuralscopeError):
        bits_per_spike(rates, spikes)


# ----------------------------------------------------------------------------- PSTH and velocity R²


def test_psth_r2_perfect_noisy_and_flat():
    rng = np.random.default_rng(2)
    cond = np.repeat(np.arange(4), 5)
    psth = rng.gamma(2.0, 1.0, size=(4, 6, 30))
    target = psth[cond]
    assert psth_r2(target, target, cond) == pytest.approx(1.0)
    # Trial noise averages out over the 5 trials of a condition.
    noisy = target + rng.normal(0, 0.5, target.shape)
    assert 0.5 < psth_r2(noisy, target, cond) < 1.0
    flat = np.broadcast_to(target.mean(axis=(0, 2), keepdims=True), target.shape)
    assert psth_r2(flat, target, cond) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(NeuralscopeError):
        psth_r2(target, target, cond[:-1])


def test_velocity_r2_linear_lagged_and_null():
    rng = np.random.default_rng(3)
    rates = rng.gamma(2.0, 1.0, size=(60, 10, 20))
    w = rng.normal(size=(10, 2))
    vel = np.einsum("rnt,nk->rkt", rates, w) + rng.normal(0, 0.3, (60, 2, 20))
    train = np.arange(60) < 45
    assert velocity_r2(rates, vel, train) > 0.9
    # Velocity lagging the rates by 2 bins is found with lag=2 only.
    lagged = np.zeros_like(vel)
    lagged[:, :, 2:] = vel[:, :, :-2]
    assert velocity_r2(rates, lagged, train, lag=2) > 0.9
    assert velocity_r2(rates, lagged, train, lag=0) < 0.3
    unrelated = rng.normal(size=(60, 20))  # 1-D velocity, independent of rates
    assert velocity_r2(rates, unrelated, np.flatnonzero(train)) < 0.05
    with pytest.raises(NeuralscopeError):
        velocity_r2(rates, vel, np.ones(60, dtype=bool))  # no test trials
    with pytest.raises(NeuralscopeError):
        velocity_r2(rates, vel[:, :, :5], train)


# ----------------------------------------------------------------------------- splits


def test_nlb_split_is_disjoint_seeded_and_sized():
    s = nlb_split(40, 100, heldout_fraction=0.25, test_fraction=0.2, random_state=4)
    assert s.heldout.size == 10 and s.test.size == 20
    assert np.intersect1d(s.heldin, s.heldout).size == 0
    np.testing.assert_array_equal(np.union1d(s.train, s.test), np.arange(100))
    t = nlb_split(40, 100, random_state=4)
    np.testing.assert_array_equal(s.heldout, t.heldout)
    assert not np.array_equal(s.heldout, nlb_split(40, 100, random_state=5).heldout)
    with pytest.raises(NeuralscopeError):
        nlb_split(1, 100)
    with pytest.raises(NeuralscopeError):
        nlb_split(40, 100, test_fraction=1.0)


def test_pseudo_trials_cut_consecutive_windows():
    data = np.arange(23 * 3, dtype=float).reshape(23, 3)
    vel = np.stack([np.arange(23.0), -np.arange(23.0)], axis=1)
    act = ContinuousActivity(data, fs=20.0, t0=1.0, covariates={"velocity": vel})
    trials = pseudo_trials(act, n_bins=5)
    assert trials.data.shape == (4, 3, 5)  # the last 3 bins are dropped
    np.testing.assert_array_equal(trials.data[1], data[5:10].T)
    np.testing.assert_array_equal(trials.attrs["velocity"][2], vel[10:15].T)
    np.testing.assert_allclose(trials.trials["start_time"], 1.0 + np.array([0, 5, 10, 15]) / 20.0)
    with pytest.raises(NeuralscopeError):
        pseudo_trials(act, n_bins=30)
    with pytest.raises(NeuralscopeError):
        pseudo_trials(data, n_bins=5)


# ----------------------------------------------------------------------------- smoothing baseline


@pytest.fixture(scope="module")
def lorenz():
    act = simulate_lorenz_population(n_neurons=24, n_trials=80, n_time=40, n_conditions=8, random_state=0)
    split = nlb_split(24, 80, random_state=0)
    return act, split


def test_smoothing_baseline_predicts_heldout_neurons(lorenz):
    act, s = lorenz
    X = act.data
    model = SpikeSmoothing(kernel_sd=[1.0, 3.0], alpha=[1e-2, 1e-1]).fit(X[s.train][:, s.heldin],
                                                                          X[s.train][:, s.heldout])
    assert len(model.cv_results_["params"]) == 4
    assert model.kernel_sd_ in (1.0, 3.0)
    pred = model.predict(X[s.test][:, s.heldin])
    assert pred.shape == (s.test.size, s.heldout.size, 40)
    score = bits_per_spike(pred, X[s.test][:, s.heldout])
    oracle = bits_per_spike(act.attrs["rates"][s.test][:, s.heldout] / act.fs, X[s.test][:, s.heldout])
    # Measured: smoothing 0.31, oracle 0.37 (seed 0).
    assert 0.1 < score < oracle
    with pytest.raises(NeuralscopeError):
        model.predict(X[s.test])  # all neurons instead of the held-in ones


def test_smoothing_keeps_constant_input_and_spike_count():
    X = np.zeros((2, 3, 50))
    X[:, :, 25] = 4.0
    sm = SpikeSmoothing(kernel_sd=2.0).smooth(X)
    np.testing.assert_allclose(sm.sum(axis=2), 4.0, rtol=1e-6)  # mass is conserved
    assert sm[0, 0, 25] < 4.0 and sm[0, 0, 27] > 0
    np.testing.assert_allclose(SpikeSmoothing(kernel_sd=3.0).smooth(np.ones((1, 2, 10))), 1.0)


@pytest.mark.parametrize(
    "params",
    [{"kernel_sd": 0.0}, {"alpha": -1.0}, {"readout": "linear"}, {"cv": 1}, {"log_offset": -1.0}],
)
def test_smoothing_rejects_bad_parameters(params, lorenz):
    act, s = lorenz
    with pytest.raises(NeuralscopeError):
        SpikeSmoothing(**params).fit(act.data[:, s.heldin], act.data[:, s.heldout])


def test_smoothing_rejects_bad_data(lorenz):
    act, s = lorenz
    bad = act.data[:, s.heldin].copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(NeuralscopeError):
        SpikeSmoothing().fit(bad, act.data[:, s.heldout])
    with pytest.raises(NeuralscopeError):
        SpikeSmoothing().fit(act.data[:, s.heldin, 0], act.data[:, s.heldout, 0])  # 2-D
    with pytest.raises(NeuralscopeError):
        SpikeSmoothing().fit(act.data[:, s.heldin], act.data[:-1, s.heldout])


def test_poisson_glm_recovers_known_weights():
    from neuralscope.manifold.nlb_smoothing import _poisson_glm

    rng = np.random.default_rng(5)
    X = rng.standard_normal((5000, 3))
    W = np.array([[0.5, -0.3], [0.0, 0.4], [-0.2, 0.0]])
    b = np.array([-0.5, 0.2])
    Y = rng.poisson(np.exp(X @ W + b)).astype(float)
    W_hat, b_hat = _poisson_glm(X, Y, alpha=1e-6)
    np.testing.assert_allclose(W_hat, W, atol=0.05)
    np.testing.assert_allclose(b_hat, b, atol=0.05)
    # A strong penalty shrinks the weights towards 0 and leaves the mean rate.
    W_big, b_big = _poisson_glm(X, Y, alpha=100.0, init=(W_hat, b_hat))
    assert np.abs(W_big).max() < 0.02
    np.testing.assert_allclose(np.exp(b_big), Y.mean(axis=0), rtol=0.05)
