"""Ground-truth tests of the deep decoders (CNN, RNN, Transformer).

Accuracy thresholds were measured on one thread (CPU) and carry margin:
CNNClassifier reached 0.98-1.00 held-out accuracy on the tuning demo, and the
LSTM regressor R^2 0.92-0.94 on simulated reaching (Wiener filter 0.95: the
simulated population is linear in velocity).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.base import clone
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

from neuralscope.core import NeuralscopeError
from neuralscope.datasets import simulate_reaching, simulate_tuning
from neuralscope.decoding.deep import (
    CNNClassifier,
    CNNRegressor,
    RNNClassifier,
    RNNRegressor,
    TransformerClassifier,
    TransformerRegressor,
)
from neuralscope.decoding.networks import (
    ConvEncoder,
    RecurrentEncoder,
    TransformerEncoder,
)

FAST = {"hidden_size": 8, "max_epochs": 4, "batch_size": 16, "device": "cpu", "random_state": 0}
CLASSIFIERS = [CNNClassifier, RNNClassifier, TransformerClassifier]
REGRESSORS = [CNNRegressor, RNNRegressor, TransformerRegressor]


def _fast(cls, **extra):
    params = dict(FAST, **extra)
    if cls in (TransformerClassifier, TransformerRegressor):
        params["n_heads"] = 2
    return cls(**params)


@pytest.fixture(scope="module")
def tuning():
    act = simulate_tuning(random_state=0)  # 60 neurons, 8 orientations x 30 trials, 20 bins
    return act.data, act.labels("stimulus")


@pytest.fixture(scope="module")
def reaching():
    act = simulate_reaching(duration=150.0, random_state=1)  # 80 neurons, 3000 bins of 50 ms
    return act.data, act.covariate("velocity")


@pytest.fixture(scope="module")
def small_trials():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 20)
    X = rng.poisson(1.0 + 2.0 * (y[:, None, None] == np.arange(3)[None, :, None]), size=(60, 3, 5)).astype(float)
    X = np.concatenate([X, rng.poisson(1.0, size=(60, 3, 5))], axis=1)  # 6 neurons, 3 informative
    return X, y


@pytest.fixture(scope="module")
def small_series():
    rng = np.random.default_rng(1)
    t = np.arange(300)
    y = np.c_[np.sin(t / 10.0), np.cos(t / 15.0)]
    X = y @ rng.normal(size=(2, 6)) + 0.3 * rng.normal(size=(300, 6))
    return X, y


# ------------------------------------------------------------- ground truth
def test_cnn_classifier_decodes_orientation(tuning):
    X, y = tuning
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    clf = CNNClassifier(random_state=0).fit(X_tr, y_tr)  # default hyper-parameters
    assert clf.score(X_te, y_te) >= 0.95
    assert set(clf.classes_) == set(np.unique(y))
    proba = clf.predict_proba(X_te)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)


def test_rnn_regressor_decodes_velocity(reaching):
    X, v = reaching
    cut = int(0.8 * len(X))  # train on the first 80 %, test on the last 20 %
    reg = RNNRegressor(random_state=0).fit(X[:cut], v[:cut])
    pred = reg.predict(X)[cut:]  # whole series, so test rows keep their real history
    assert pred.shape == v[cut:].shape
    assert r2_score(v[cut:], pred) >= 0.85


def test_cnn_regressor_decodes_velocity(reaching):
    X, v = reaching
    cut = int(0.8 * len(X))
    reg = CNNRegressor(random_state=0).fit(X[:cut], v[:cut])
    assert r2_score(v[cut:], reg.predict(X)[cut:]) >= 0.88


# ------------------------------------------------------------ determinism
@pytest.mark.parametrize("cls", CLASSIFIERS)
def test_classifier_same_seed_same_predictions(cls, small_trials):
    X, y = small_trials
    a = _fast(cls).fit(X, y).predict_proba(X)
    b = _fast(cls).fit(X, y).predict_proba(X)
    c = _fast(cls, random_state=1).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("cls", REGRESSORS)
def test_regressor_same_seed_same_predictions(cls, small_series):
    X, y = small_series
    a = _fast(cls).fit(X, y).predict(X)
    b = clone(_fast(cls)).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)


def test_fit_leaves_global_torch_rng_alone(small_trials):
    X, y = small_trials
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _fast(CNNClassifier).fit(X, y)
    np.testing.assert_array_equal(torch.rand(3).numpy(), expected.numpy())


# ------------------------------------------------ early stopping & splits
def test_early_stopping_on_noise_restores_best_weights():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(400, 8)), rng.normal(size=400)  # nothing to learn
    reg = RNNRegressor(hidden_size=16, max_epochs=60, patience=4, lr=1e-2, n_history=3, device="cpu", random_state=0)
    reg.fit(X, y)
    hist = reg.history_
    assert reg.n_epochs_ < 60
    assert reg.n_epochs_ == reg.best_epoch_ + 4 + 1  # stopped exactly `patience` epochs after the best
    assert len(hist["train_loss"]) == len(hist["val_loss"]) == reg.n_epochs_
    # The validation split is the last 15 % of the series (60 rows): the kept
    # weights reproduce the best validation loss recorded there.
    z_pred = (reg.predict(X)[-60:] - reg.target_mean_[0]) / reg.target_scale_[0]
    z_true = (y[-60:] - reg.target_mean_[0]) / reg.target_scale_[0]
    np.testing.assert_allclose(np.mean((z_pred - z_true) ** 2), min(hist["val_loss"]), rtol=1e-4)


def test_regressor_statistics_come_from_training_rows(small_series):
    X, y = small_series
    reg = _fast(RNNRegressor, validation_fraction=0.2).fit(X, y)
    np.testing.assert_allclose(reg.mean_, X[:240].mean(axis=0))  # first 80 % of 300 rows
    np.testing.assert_allclose(reg.scale_, X[:240].std(axis=0))
    np.testing.assert_allclose(reg.target_mean_, y[:240].mean(axis=0))


def test_validation_splits():
    rng = np.random.default_rng(0)
    codes = np.repeat([0, 1, 2], 20)
    clf = CNNClassifier(validation_fraction=0.25)
    train, val = clf._split(60, rng.permutation(codes), rng)
    assert np.intersect1d(train, val).size == 0 and np.union1d(train, val).size == 60
    # stratified: 5 of each class's 20 samples are held out
    labels = rng.permutation(codes)
    _, val = clf._split(60, labels, np.random.default_rng(1))
    np.testing.assert_array_equal(np.bincount(labels[val]), [5, 5, 5])
    # regression: the last contiguous 25 %, never a random draw
    train, val = RNNRegressor(validation_fraction=0.25)._split(60, None, rng)
    np.testing.assert_array_equal(train, np.arange(45))
    np.testing.assert_array_equal(val, np.arange(45, 60))


def test_no_validation_trains_all_epochs(small_trials):
    X, y = small_trials
    clf = _fast(CNNClassifier, validation_fraction=0.0, max_epochs=5).fit(X, y)
    assert clf.n_epochs_ <= 5 and clf.history_["val_loss"] == []


@pytest.mark.parametrize("cls", REGRESSORS)
def test_regressor_is_causal(cls, small_series):
    X, y = small_series
    reg = _fast(cls).fit(X, y)
    changed = X.copy()
    changed[150:] += 5.0  # alter the future of row 149
    np.testing.assert_array_equal(reg.predict(X)[:150], reg.predict(changed)[:150])
    assert not np.allclose(reg.predict(X)[150:], reg.predict(changed)[150:])


# ------------------------------------------------------- shapes & latents
@pytest.mark.parametrize("cls", CLASSIFIERS)
def test_classifier_transform_and_2d_input(cls, small_trials):
    X, y = small_trials
    clf = _fast(cls).fit(X, y)
    assert clf.transform(X).shape == (60, 8)
    assert clf.n_features_in_ == 6 and clf.n_times_in_ == 5
    flat = _fast(cls).fit(X.mean(axis=2), y)  # 2-D: one time bin
    assert flat.n_times_in_ == 1
    assert flat.predict(X.mean(axis=2)).shape == (60,)
    assert flat.transform(X.mean(axis=2)).shape == (60, 8)


@pytest.mark.parametrize("cls, latent", [(CNNRegressor, 8 * 4), (RNNRegressor, 8), (TransformerRegressor, 8)])
def test_regressor_shapes(cls, latent, small_series):
    X, y = small_series
    reg = _fast(cls, n_history=4).fit(X, y)
    assert reg.predict(X).shape == (300, 2)
    assert reg.transform(X).shape == (300, latent)
    one = _fast(cls, n_history=4).fit(X, y[:, 0])
    assert one.predict(X).shape == (300,)
    assert one.n_outputs_ == 1


def test_string_labels(small_trials):
    X, y = small_trials
    names = np.array(["left", "right", "up"])[y]
    pred = _fast(CNNClassifier).fit(X, names).predict(X)
    assert set(pred) <= set(names)


@pytest.mark.parametrize("net", [
    ConvEncoder(5, 3, hidden_size=8, pooling="last"),
    ConvEncoder(5, 3, hidden_size=8, pooling="flatten", n_time=7),
    RecurrentEncoder(5, 3, hidden_size=8, cell="gru", pooling="mean"),
    TransformerEncoder(5, 3, hidden_size=8, n_heads=2, positional="learned", max_len=7),
])
def test_networks_expose_latent(net):
    x = torch.zeros(4, 7, 5)
    assert net.encode(x).shape == (4, net.latent_dim)
    assert net(x).shape == (4, 3)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("cls", CLASSIFIERS + REGRESSORS)
def test_nan_input_raises(cls, small_series):
    X, y = small_series
    bad = X.copy()
    bad[3, 1] = np.nan
    target = (y[:, 0] > 0).astype(int) if cls in CLASSIFIERS else y
    with pytest.raises(NeuralscopeError, match="NaN"):
        _fast(cls).fit(bad, target)


def test_wrong_ndim_raises(small_trials, small_series):
    X, y = small_trials
    with pytest.raises(NeuralscopeError, match="2-D or 3-D"):
        _fast(CNNClassifier).fit(X[..., None], y)
    with pytest.raises(NeuralscopeError, match="1-D"):
        _fast(CNNClassifier).fit(X[:, 0, 0], y)
    Xs, ys = small_series
    with pytest.raises(NeuralscopeError, match="2-D array"):
        _fast(RNNRegressor).fit(Xs[:, :, None], ys)


def test_length_mismatch_raises(small_trials, small_series):
    X, y = small_trials
    with pytest.raises(NeuralscopeError, match="samples"):
        _fast(CNNClassifier).fit(X, y[:-1])
    Xs, ys = small_series
    with pytest.raises(NeuralscopeError, match="samples"):
        _fast(RNNRegressor).fit(Xs, ys[:-5])


def test_predict_input_must_match_fit(small_trials):
    X, y = small_trials
    clf = _fast(CNNClassifier).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :4])
    with pytest.raises(NeuralscopeError, match="time bins"):
        clf.predict(X[:, :, :3])


def test_single_class_raises(small_trials):
    X, y = small_trials
    with pytest.raises(NeuralscopeError, match="2 classes"):
        _fast(RNNClassifier).fit(X, np.zeros(len(y)))


@pytest.mark.parametrize("est, param", [
    (RNNClassifier(cell="rnn", device="cpu"), "cell"),
    (TransformerClassifier(hidden_size=10, n_heads=4, device="cpu"), "n_heads"),
    (CNNClassifier(dropout=1.0, device="cpu"), "dropout"),
    (CNNClassifier(kernel_size=0, device="cpu"), "kernel_size"),
    (CNNClassifier(max_epochs=0, device="cpu"), "max_epochs"),
    (CNNClassifier(device="tpu"), "device"),
    (RNNRegressor(n_history=0, device="cpu"), "n_history"),
])
def test_invalid_hyper_parameters_raise(est, param, small_trials, small_series):
    X, y = small_series if hasattr(est, "n_history") else small_trials
    with pytest.raises(NeuralscopeError, match=param):
        est.fit(X, y)
