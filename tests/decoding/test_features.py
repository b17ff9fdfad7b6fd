"""Causal history windows, trial flattening and the shared input checks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator

from neuralscope.core import NeuralscopeError
from neuralscope.decoding.features import (
    check_decoder_input,
    check_n_history,
    flatten_trials,
    lagged_design,
    lagged_windows,
)


def test_lagged_windows_hand_example():
    X = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])
    win = lagged_windows(X, 3)
    assert win.shape == (4, 3, 2)
    # Row t holds X[t-2], X[t-1], X[t]; zeros before the first sample.
    expected_t0 = [[0, 0], [0, 0], [1, 10]]
    expected_t1 = [[0, 0], [1, 10], [2, 20]]
    expected_t3 = [[2, 20], [3, 30], [4, 40]]
    np.testing.assert_array_equal(win[0], expected_t0)
    np.testing.assert_array_equal(win[1], expected_t1)
    np.testing.assert_array_equal(win[3], expected_t3)


def test_lagged_windows_last_entry_is_current_bin_and_causal():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    win = lagged_windows(X, 5)
    np.testing.assert_array_equal(win[:, -1, :], X)
    # Changing the future must not change any earlier window.
    X2 = X.copy()
    X2[20:] += 100.0
    np.testing.assert_array_equal(lagged_windows(X2, 5)[:20], win[:20])


def test_lagged_windows_history_one_is_identity_and_1d_input():
    X = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(lagged_windows(X, 1)[:, 0, :], X)
    win = lagged_windows(np.array([1.0, 2.0, 3.0]), 2)
    np.testing.assert_array_equal(win[:, :, 0], [[0, 1], [1, 2], [2, 3]])


def test_lagged_windows_history_longer_than_data():
    win = lagged_windows(np.array([[5.0]]), 4)
    np.testing.assert_array_equal(win[0, :, 0], [0, 0, 0, 5])


def test_lagged_windows_do_not_alias_input():
    X = np.ones((5, 2))
    win = lagged_windows(X, 2)
    win[:] = -1.0
    assert np.all(X == 1.0)


def test_lagged_design_flattens_oldest_first():
    X = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    design = lagged_design(X, 2)
    assert design.shape == (3, 4)
    np.testing.assert_array_equal(design[2], [2, 20, 3, 30])
    np.testing.assert_array_equal(design[0], [0, 0, 1, 10])


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3", None])
def test_invalid_n_history_raises(bad):
    with pytest.raises(NeuralscopeError, match="n_history"):
        lagged_windows(np.ones((4, 2)), bad)
    with pytest.raises(NeuralscopeError):
        check_n_history(bad)


def test_lagged_windows_rejects_nan_and_3d():
    X = np.ones((4, 2))
    X[1, 0] = np.nan
    with pytest.raises(NeuralscopeError, match="finite"):
        lagged_windows(X, 2)
    with pytest.raises(NeuralscopeError, match="1-D or 2-D"):
        lagged_design(np.ones((2, 3, 4)), 2)


def test_flatten_trials_is_neuron_major():
    X = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    flat = flatten_trials(X)
    assert flat.shape == (2, 12)
    # feature i * n_time + k is neuron i at bin k
    assert flat[1, 2 * 4 + 3] == X[1, 2, 3]
    X2 = np.ones((5, 7))
    np.testing.assert_array_equal(flatten_trials(X2), X2)


def test_flatten_trials_errors():
    with pytest.raises(NeuralscopeError, match="2-D or 3-D"):
        flatten_trials(np.ones(5))
    bad = np.ones((2, 2, 2))
    bad[0, 0, 0] = np.inf
    with pytest.raises(NeuralscopeError, match="finite"):
        flatten_trials(bad)


class _Dummy(BaseEstimator):
    pass


def test_check_decoder_input_flattens_trials_and_records_features():
    est = _Dummy()
    X = np.random.default_rng(0).poisson(2.0, size=(6, 3, 4)).astype(float)
    X2, y, shape = check_decoder_input(est, X, [0, 1] * 3, reset=True, trials=True, target="classes")
    assert X2.shape == (6, 12) and shape == (3, 4) and est.n_features_in_ == 12
    np.testing.assert_array_equal(y, [0, 1] * 3)


def test_check_decoder_input_errors_are_neuralscope_errors():
    est = _Dummy()
    X = np.ones((6, 2))
    with pytest.raises(NeuralscopeError, match="y: expected 6 samples"):
        check_decoder_input(est, X, [0, 1, 0], reset=True, target="classes")
    with pytest.raises(NeuralscopeError, match="at least 2 classes"):
        check_decoder_input(est, X, [1] * 6, reset=True, target="classes")
    with pytest.raises(NeuralscopeError, match="Unknown label type"):
        check_decoder_input(est, X, np.linspace(0, 1, 6), reset=True, target="classes")
    with pytest.raises(NeuralscopeError, match="dim 3"):
        check_decoder_input(est, np.ones((6, 2, 2)), [0, 1] * 3, reset=True, trials=False, target="classes")
    Xnan = X.copy()
    Xnan[0, 0] = np.nan
    with pytest.raises(NeuralscopeError, match="X: expected finite"):
        check_decoder_input(est, Xnan, np.arange(6.0), reset=True, target="continuous")
    with pytest.raises(NeuralscopeError, match="y"):
        check_decoder_input(est, X, np.full(6, np.nan), reset=True, target="continuous")
