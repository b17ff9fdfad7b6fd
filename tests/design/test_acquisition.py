"""Log EI (stable), UCB, their gradients, and the multi-start optimiser."""

import numpy as np
from scipy import special, stats

from neuralscope.design.acquisition import (
    LogExpectedImprovement,
    UpperConfidenceBound,
    _dlog_h,
    log_h,
    optimize_acquisition,
)
from neuralscope.design.gp import GaussianProcess
from neuralscope.design.space import SearchSpace


def test_log_h_matches_direct_formula_and_stays_finite():
    z = np.linspace(-6, 6, 241)
    direct = np.log(stats.norm.pdf(z) + z * stats.norm.cdf(z))
    np.testing.assert_allclose(log_h(z), direct, rtol=1e-9, atol=1e-12)
    far = -np.logspace(1, 12, 50)
    v = log_h(far)
    assert np.all(np.isfinite(v)) and np.all(np.diff(v) < 0)  # monotone, no underflow to -inf
    # Asymptote: log h(z) ~ -z^2/2 - log(2 pi)/2 - 2 log|z| for z -> -inf.
    np.testing.assert_allclose(v[-1], -0.5 * far[-1] ** 2 - 0.5 * np.log(2 * np.pi) - 2 * np.log(-far[-1]),
                               rtol=1e-12)
    # Regime boundaries are continuous.
    for b in (-1.0, -1 / np.sqrt(np.finfo(float).eps)):
        lo, hi = log_h(np.array([b * (1 + 1e-9)]))[0], log_h(np.array([b * (1 - 1e-9)]))[0]
        assert abs(lo - hi) < 1e-5 * (1 + abs(hi))


def test_dlog_h_is_the_derivative():
    z = np.array([-40.0, -8.0, -2.0, -0.5, 0.0, 1.0, 4.0])
    eps = 1e-6 * np.maximum(1, np.abs(z))
    num = (log_h(z + eps) - log_h(z - eps)) / (2 * eps)
    np.testing.assert_allclose(_dlog_h(z, log_h(z)), num, rtol=1e-5)
    np.testing.assert_allclose(_dlog_h(np.array([0.0]), log_h(np.array([0.0]))),
                               special.ndtr(0) / stats.norm.pdf(0))


def _gp(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((15, 2))
    y = -((X[:, 0] - 0.3) ** 2) - (X[:, 1] - 0.7) ** 2
    return GaussianProcess(bounds=np.array([[0, 1], [0, 1]])).fit(X, y), X, rng


def test_acquisition_gradients_match_finite_differences():
    gp, X, rng = _gp()
    Xs = rng.random((5, 2))
    for acq in (LogExpectedImprovement(float(gp.y_train_.max())), UpperConfidenceBound(2.0)):
        v, g = acq(gp, Xs, grad=True)
        for j in range(2):
            E = np.zeros(2)
            E[j] = 1e-6
            num = (acq(gp, Xs + E) - acq(gp, Xs - E)) / 2e-6
            np.testing.assert_allclose(g[:, j], num, rtol=1e-4, atol=1e-5)


def test_optimizer_finds_the_grid_maximum():
    gp, X, rng = _gp(1)
    space = SearchSpace([{"name": "a", "type": "float", "bounds": [0, 1]},
                         {"name": "b", "type": "float", "bounds": [0, 1]}])
    acq = LogExpectedImprovement(float(gp.y_train_.max()))
    x, val = optimize_acquisition(acq, gp, space, np.random.default_rng(0), X_obs=X)
    g = np.stack(np.meshgrid(np.linspace(0, 1, 201), np.linspace(0, 1, 201)), -1).reshape(-1, 2)
    assert val >= acq(gp, g).max() - 1e-6
    assert 0 <= x.min() and x.max() <= 1


def test_monte_carlo_noisy_ei_gradient_and_ranking():
    from neuralscope.design.acquisition import MonteCarloNoisyLogEI

    gp, X, rng = _gp(2)
    acq = MonteCarloNoisyLogEI(gp, n_samples=16, rng=np.random.default_rng(0))
    Xs = rng.random((5, 2))
    v, g = acq(gp, Xs, grad=True)
    assert np.all(np.isfinite(v))
    for j in range(2):
        E = np.zeros(2)
        E[j] = 1e-6
        num = (acq(gp, Xs + E) - acq(gp, Xs - E)) / 2e-6
        np.testing.assert_allclose(g[:, j], num, rtol=1e-4, atol=1e-5)
    # Near the optimum of the (noiseless) quadratic it prefers the optimum over a far corner.
    assert acq(gp, np.array([[0.3, 0.7]]))[0] > acq(gp, np.array([[0.95, 0.05]]))[0]
