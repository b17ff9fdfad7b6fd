"""The exact GP: fit quality, analytic gradients, ill-conditioned data, determinism."""

import numpy as np
import pytest
from scipy import optimize

from neuralscope.core.errors import NeuralscopeError
from neuralscope.design.gp import GaussianProcess, cholesky_with_jitter


def _data(n=30, d=2, seed=0, noise=0.05):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    f = np.sin(4 * X[:, 0]) + 0.5 * np.cos(3 * X[:, 1])
    return X, f + noise * rng.normal(size=n), rng


@pytest.mark.parametrize("kernel", ["matern52", "rbf"])
def test_fit_recovers_smooth_function(kernel):
    X, y, rng = _data(n=60)
    gp = GaussianProcess(kernel=kernel).fit(X, y)
    Xt = rng.random((200, 2))
    ft = np.sin(4 * Xt[:, 0]) + 0.5 * np.cos(3 * Xt[:, 1])
    mu, sd = gp.predict(Xt, return_std=True)
    assert np.sqrt(np.mean((mu - ft) ** 2)) < 0.06
    # Noise variance near the true 0.05^2 (in original units) and calibrated-ish intervals.
    assert 0.2 < np.sqrt(gp.noise_var_) * gp.y_std_ / 0.05 < 2.5
    assert np.mean(np.abs(mu - ft) < 3 * sd + 1e-9) > 0.9


@pytest.mark.parametrize("kernel", ["matern52", "rbf"])
@pytest.mark.parametrize("fixed_noise", [None, 1e-3])
def test_log_posterior_gradient_matches_finite_differences(kernel, fixed_noise):
    X, y, rng = _data(n=25, d=3)
    gp = GaussianProcess(kernel=kernel, fixed_noise=fixed_noise)
    yn = (y - y.mean()) / y.std()
    D = ((X[:, None] - X[None]) ** 2).reshape(-1, 3)
    theta = np.concatenate([rng.normal(-1, 0.3, 3), [0.2], [] if fixed_noise else [-3.0], [0.1]])
    val, grad = gp._neg_log_posterior(theta, X, yn, D)
    num = optimize.approx_fprime(theta, lambda t: gp._neg_log_posterior(t, X, yn, D)[0], 1e-7)
    np.testing.assert_allclose(grad, num, rtol=1e-4, atol=1e-4 * (1 + abs(val)))


def test_prediction_gradients_match_finite_differences():
    X, y, rng = _data(n=20)
    gp = GaussianProcess().fit(X, y)
    Xs = rng.random((6, 2))
    m, v, dm, dv = gp.predict_normalized(Xs, grad=True)
    eps = 1e-6
    for j in range(2):
        E = np.zeros(2)
        E[j] = eps
        m2, v2 = gp.predict_normalized(Xs + E)
        np.testing.assert_allclose((m2 - m) / eps, dm[:, j], atol=1e-4)
        np.testing.assert_allclose((v2 - v) / eps, dv[:, j], atol=1e-4)


def test_duplicates_and_noiseless_data_do_not_break_the_fit():
    rng = np.random.default_rng(1)
    X = np.repeat(rng.random((8, 2)), 3, axis=0)  # every point three times
    y = np.sin(5 * X[:, 0]) + X[:, 1]  # noiseless, so duplicates make K singular without noise
    gp = GaussianProcess(fixed_noise=0.0).fit(X, y)
    assert gp.jitter_ > 0  # the singular kernel matrix needed jitter
    mu = gp.predict(X)
    assert np.all(np.isfinite(mu)) and np.max(np.abs(mu - y)) < 1e-3
    # Fitted noise on the same data: tiny but finite, no failure.
    gp2 = GaussianProcess().fit(X, y)
    assert np.all(np.isfinite(gp2.predict(rng.random((5, 2)))))


def test_cholesky_with_jitter_on_singular_matrix():
    v = np.array([[1.0, 2.0, 3.0]])
    K = v.T @ v  # rank 1
    L, jitter = cholesky_with_jitter(K)
    assert jitter > 0
    np.testing.assert_allclose(L @ L.T, K + jitter * np.eye(3), atol=1e-10)
    with pytest.raises(NeuralscopeError):
        cholesky_with_jitter(-np.eye(3))


def test_constant_targets_and_single_point():
    X = np.random.default_rng(0).random((5, 2))
    gp = GaussianProcess().fit(X, np.full(5, 3.0))
    np.testing.assert_allclose(gp.predict(X), 3.0, atol=1e-6)
    gp1 = GaussianProcess(bounds=np.array([[0, 1], [0, 1]])).fit(X[:1], np.array([1.0]))
    assert np.isfinite(gp1.predict(X)).all()


def test_same_seed_same_fit_and_bad_input():
    X, y, _ = _data()
    a = GaussianProcess(random_state=3).fit(X, y).theta_
    b = GaussianProcess(random_state=3).fit(X, y).theta_
    np.testing.assert_array_equal(a, b)
    with pytest.raises(NeuralscopeError):
        GaussianProcess().fit(X, y[:-1])
    with pytest.raises(NeuralscopeError):
        GaussianProcess(kernel="cubic").fit(X, y)
    with pytest.raises(NeuralscopeError):
        GaussianProcess().fit(X, np.where(np.arange(len(y)) == 0, np.nan, y))
