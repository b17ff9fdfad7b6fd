"""scikit-learn's estimator checks on the six deep decoders (tiny networks so
the whole file runs in well under a minute on one thread)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from sklearn.utils.estimator_checks import parametrize_with_checks

from neuralscope.decoding.deep import (
    CNNClassifier,
    CNNRegressor,
    RNNClassifier,
    RNNRegressor,
    TransformerClassifier,
    TransformerRegressor,
)

# Small but able to fit sklearn's toy problems (blobs, make_regression) in a
# few dozen gradient steps.
TINY = {"hidden_size": 8, "max_epochs": 3, "batch_size": 16, "lr": 0.03, "device": "cpu", "random_state": 0}
TINY_REG = dict(TINY, n_history=3)

ESTIMATORS = [
    CNNClassifier(**TINY),
    RNNClassifier(cell="gru", **TINY),
    TransformerClassifier(n_heads=2, **TINY),
    CNNRegressor(**TINY_REG),
    RNNRegressor(cell="lstm", **TINY_REG),
    TransformerRegressor(n_heads=2, **TINY_REG),
]

# Regressors decode each row from the preceding n_history rows of the same
# call, so a row's prediction depends on which rows come before it: predicting
# on a subset or a permutation of the rows legitimately changes it.
_HISTORY_XFAIL = {
    "check_methods_subset_invariance": "predictions use the preceding rows (causal history), so subsets differ",
    "check_methods_sample_order_invariance": "predictions use the preceding rows (causal history), so order matters",
}


# Attention's float32 kernels round differently for different batch sizes
# (differences ~1e-7, below the network's precision), and this check demands
# agreement to 1e-7.
_ATTENTION_XFAIL = {
    "check_methods_subset_invariance": "float32 attention kernels differ by ~1e-7 between batch sizes",
}


def _expected_failed_checks(estimator):
    if hasattr(estimator, "n_history"):
        return dict(_HISTORY_XFAIL)
    if hasattr(estimator, "n_heads"):
        return dict(_ATTENTION_XFAIL)
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
