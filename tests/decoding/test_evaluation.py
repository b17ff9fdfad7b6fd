import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge

from neuralscope.core import NeuralscopeError
from neuralscope.decoding.evaluation import (
    BlockedTimeSeriesSplit,
    cross_validate_decoder,
    learning_curve,
    permutation_importance_neurons,
    time_resolved_accuracy,
)


def _two_class_trials(seed=0, n=120, informative=(0, 3)):
    """Trials x neurons x time; only `informative` neurons carry the label, after bin 5."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    X = rng.normal(size=(n, 8, 10))
    for j in informative:
        X[:, j, 5:] += 1.5 * (2 * y[:, None] - 1)
    return X, y


def test_blocked_split_is_contiguous_with_gap():
    folds = list(BlockedTimeSeriesSplit(4, gap=3).split(np.zeros(40)))
    assert len(folds) == 4
    for train, test in folds:
        assert np.all(np.diff(test) == 1)
        dist = np.min(np.abs(train[:, None] - test[None, :]))
        assert dist > 3
    all_test = np.concatenate([t for _, t in folds])
    np.testing.assert_array_equal(np.sort(all_test), np.arange(40))


def test_classification_cv_is_out_of_fold_and_seeded():
    X, y = _two_class_trials()
    est = LogisticRegression(max_iter=500)
    r1 = cross_validate_decoder(est, X.reshape(len(X), -1), y, cv=5, random_state=3)
    r2 = cross_validate_decoder(est, X.reshape(len(X), -1), y, cv=5, random_state=3)
    assert r1.metrics["accuracy"] > 0.9
    assert r1.metrics["accuracy"] == r2.metrics["accuracy"]
    assert np.all(r1.fold >= 0) and set(r1.fold) == set(range(5))
    cm = np.asarray(r1.metrics["confusion_matrix"])
    assert cm.sum() == len(y) and np.trace(cm) == round(r1.metrics["accuracy"] * len(y))


def test_pure_noise_decodes_at_chance():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 20))
    y = rng.integers(0, 2, size=200)
    res = cross_validate_decoder(LogisticRegression(max_iter=500), X, y, cv=5)
    assert abs(res.metrics["accuracy"] - 0.5) < 0.12


def test_regression_uses_contiguous_blocks():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 5))
    w = np.array([[1.0, 0.0], [0.5, -1.0], [0, 0], [0, 0], [0, 2.0]])
    y = X @ w + 0.1 * rng.normal(size=(500, 2))
    res = cross_validate_decoder(Ridge(alpha=1e-3), X, y, cv=5, gap=2)
    assert res.task == "regression"
    assert len(res.metrics["r2"]) == 2 and res.metrics["r2_mean"] > 0.95
    # Each fold is one contiguous block, in order.
    assert np.all(np.diff(res.fold) >= 0)


def test_bad_inputs_raise_named_errors():
    X, y = _two_class_trials()
    with pytest.raises(NeuralscopeError, match="2 classes"):
        cross_validate_decoder(LogisticRegression(), X.reshape(len(X), -1), np.zeros(len(X)))
    with pytest.raises(NeuralscopeError, match="samples"):
        cross_validate_decoder(LogisticRegression(), X.reshape(len(X), -1), y[:-1])
    Xn = X.reshape(len(X), -1).copy()
    Xn[0, 0] = np.nan
    with pytest.raises(NeuralscopeError, match="finite"):
        cross_validate_decoder(LogisticRegression(), Xn, y)
    with pytest.raises(NeuralscopeError, match="cv"):
        cross_validate_decoder(LogisticRegression(), X.reshape(len(X), -1), y, cv=1)


def test_time_resolved_accuracy_finds_the_onset():
    X, y = _two_class_trials()
    acc = time_resolved_accuracy(LogisticRegression(max_iter=500), X, y, cv=4)
    assert acc.shape == (10,)
    assert acc[:5].max() < 0.75  # before onset: chance
    assert acc[5:].min() > 0.9


def test_permutation_importance_ranks_informative_neurons_first():
    X, y = _two_class_trials(informative=(2, 6))
    est = LogisticRegression(max_iter=500)
    flat = X[:, :, 5:].mean(axis=2)  # 2-D: neurons are columns
    imp = permutation_importance_neurons(est, flat, y, cv=4, n_repeats=3, random_state=0)
    assert set(np.argsort(imp)[-2:]) == {2, 6}
    assert imp[[0, 1, 3, 4, 5, 7]].max() < 0.05


def test_learning_curve_improves_with_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 40))
    y = (X[:, :5].sum(axis=1) + 0.5 * rng.normal(size=300) > 0).astype(int)
    lc = learning_curve(LogisticRegression(max_iter=500), X, y, train_fractions=(0.05, 1.0), cv=3)
    assert lc["n_train"][0] < lc["n_train"][1]
    assert lc["score"][1] > lc["score"][0]
