"""SequentialVAE: learns Lorenz dynamics well enough to predict held-out neurons,
is deterministic, keeps the sklearn contract and rejects bad input.

Thresholds were measured on one CPU thread: on the tiny Lorenz set below, 20
epochs gave held-out co-bps 0.18-0.23 over seeds 0-2 (true rates 0.50, the
mean-rate model 0 by construction).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.base import clone

from neuralscope.core import NeuralscopeError
from neuralscope.datasets.lorenz import simulate_lorenz_population
from neuralscope.manifold.nlb import bits_per_spike, nlb_split
from neuralscope.manifold.seqvae import SequentialVAE
from neuralscope.manifold.seqvae_model import SeqVAENetwork, gaussian_kl

TINY = {"n_factors": 4, "encoder_size": 16, "generator_size": 16, "lr": 1e-2, "batch_size": 16,
        "kl_warmup": 10, "device": "cpu", "random_state": 0}


@pytest.fixture(scope="module")
def lorenz():
    act = simulate_lorenz_population(n_neurons=20, n_trials=60, n_time=30, n_conditions=6, random_state=0)
    return act, nlb_split(20, 60, random_state=0)


@pytest.fixture(scope="module")
def fitted(lorenz):
    act, s = lorenz
    return SequentialVAE(max_epochs=20, **TINY).fit(act.data[s.train], heldout_neurons=s.heldout)


def test_beats_the_mean_rate_model_on_heldout_neurons(lorenz, fitted):
    act, s = lorenz
    test = act.data[s.test]
    rates = fitted.predict_rates(test)
    assert rates.shape == test.shape and np.all(rates > 0)
    score = bits_per_spike(rates[:, s.heldout], test[:, s.heldout])
    assert score > 0.1
    assert fitted.score(test) == pytest.approx(score)
    oracle = bits_per_spike(act.attrs["rates"][s.test][:, s.heldout] / act.fs, test[:, s.heldout])
    assert score < oracle  # sanity: nothing beats the true rates by this much
    np.testing.assert_array_equal(fitted.heldout_, s.heldout)
    np.testing.assert_array_equal(fitted.heldin_, s.heldin)


def test_heldout_columns_are_never_read(lorenz, fitted):
    act, s = lorenz
    test = act.data[s.test].copy()
    ref = fitted.predict_rates(test)
    test[:, s.heldout] = np.nan  # unknown at test time in the benchmark
    np.testing.assert_array_equal(fitted.predict_rates(test), ref)
    np.testing.assert_array_equal(fitted.predict_rates(test[:, s.heldin]), ref)
    with pytest.raises(NeuralscopeError):
        fitted.predict_rates(test[:, :3])


def test_factors_capture_the_lorenz_latent(lorenz, fitted):
    act, s = lorenz
    factors = fitted.transform(act.data[s.test])
    assert factors.shape == (s.test.size, 4, 30)
    # A linear map from factors to the true 3-D latent (fitted on these trials)
    # explains much of its variance; the same map from shuffled factors does not.
    F = factors.transpose(0, 2, 1).reshape(-1, 4)
    Z = act.attrs["latents"][s.test].transpose(0, 2, 1).reshape(-1, 3)
    A = np.c_[F, np.ones(len(F))]

    def r2(design: np.ndarray) -> float:
        coef, *_ = np.linalg.lstsq(design, Z, rcond=None)
        return 1 - ((Z - design @ coef) ** 2).sum() / ((Z - Z.mean(0)) ** 2).sum()

    rng = np.random.default_rng(0)
    assert r2(A) > 0.4
    assert r2(A) > r2(A[rng.permutation(len(A))]) + 0.3


def test_same_seed_same_result_and_global_rng_untouched(lorenz):
    act, s = lorenz
    X = act.data[s.train]
    before = torch.random.get_rng_state()
    a = SequentialVAE(max_epochs=3, **TINY).fit(X, heldout_neurons=s.heldout)
    assert torch.equal(torch.random.get_rng_state(), before)
    b = SequentialVAE(max_epochs=3, **TINY).fit(X, heldout_neurons=s.heldout)
    c = SequentialVAE(max_epochs=3, **dict(TINY, random_state=1)).fit(X, heldout_neurons=s.heldout)
    np.testing.assert_array_equal(a.predict_rates(X), b.predict_rates(X))
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    assert a.history_ == b.history_
    assert not np.allclose(a.predict_rates(X), c.predict_rates(X))


def test_training_history_and_early_stopping(lorenz):
    act, s = lorenz
    model = SequentialVAE(max_epochs=200, patience=2, **dict(TINY, kl_warmup=2))
    model.fit(act.data, heldout_neurons=np.isin(np.arange(20), s.heldout))  # boolean mask works too
    assert model.n_epochs_ < 200  # patience 2 stops long before
    assert model.best_epoch_ < model.n_epochs_
    assert len(model.history_["val_loss"]) == model.n_epochs_
    assert model.history_["val_loss"][model.best_epoch_] == min(model.history_["val_loss"][1:])
    # Without validation trials the last weights are kept.
    no_val = SequentialVAE(max_epochs=2, validation_fraction=0.0, **TINY).fit(act.data)
    assert no_val.history_["val_loss"] == [] and no_val.best_epoch_ == 1
    assert no_val.heldout_.size == 0 and no_val.n_features_in_ == 20


def test_inferred_inputs_and_softplus_paths_run(lorenz):
    act, s = lorenz
    model = SequentialVAE(max_epochs=2, n_inputs=2, controller_size=8, link="softplus", **TINY)
    model.fit(act.data[s.train], heldout_neurons=s.heldout)
    rates = model.predict_rates(act.data[s.test])
    assert rates.shape == act.data[s.test].shape and np.all(np.isfinite(rates)) and np.all(rates > 0)
    assert model.transform(act.data[s.test]).shape == (s.test.size, 4, 30)
    # transform accepts other trial lengths: the generator just runs longer.
    assert model.transform(act.data[:2, :, :12]).shape == (2, 4, 12)


def test_sklearn_contract(fitted):
    params = fitted.get_params()
    assert params["n_factors"] == 4 and params["random_state"] == 0
    fresh = clone(fitted)
    assert not hasattr(fresh, "model_")
    with pytest.raises(Exception, match="not fitted"):
        fresh.transform(np.zeros((2, 20, 30)))


def test_gaussian_kl_matches_closed_form():
    mean = torch.tensor([[0.3, -0.2]])
    logvar = torch.log(torch.tensor([[0.05, 0.2]]))
    prior = 0.1
    var = torch.exp(logvar)
    expected = 0.5 * (var / prior + mean**2 / prior - 1 - torch.log(var / prior)).sum()
    assert float(gaussian_kl(mean, logvar, prior)) == pytest.approx(float(expected))
    assert float(gaussian_kl(torch.zeros(1, 3), torch.log(torch.full((1, 3), prior)), prior)) == pytest.approx(0)
    net = SeqVAENetwork(5, 7, 3, 4, 6, 0, 4, 0.0)
    out = net(torch.zeros(2, 9, 5), sample=False)
    assert out["activation"].shape == (2, 9, 7) and out["factors"].shape == (2, 9, 3)


def _with(data: np.ndarray, idx: tuple, value: float) -> np.ndarray:
    out = data.copy()
    out[idx] = value
    return out


@pytest.mark.parametrize(
    "make",
    [
        lambda d: _with(d, (0, 0, 0), np.nan),
        lambda d: _with(d, (1, 2, 3), np.inf),
        lambda d: _with(d, (0, 0, 0), -1.0),
        lambda d: d[:, :, 0],  # 2-D
        lambda d: d[:1],  # one trial
        lambda d: np.full(d.shape, "spikes", dtype=object),  # not numbers
    ],
)
def test_bad_data_raises(lorenz, make):
    act, _ = lorenz
    with pytest.raises(NeuralscopeError):
        SequentialVAE(max_epochs=1, **TINY).fit(make(act.data[:8]))


@pytest.mark.parametrize(
    "params",
    [
        {"n_factors": 0},
        {"encoder_size": 2.5},
        {"n_inputs": -1},
        {"dropout": 1.0},
        {"coordinated_dropout": -0.1},
        {"lr": 0.0},
        {"lr": "fast"},
        {"kl_weight": -1.0},
        {"link": "relu"},
        {"validation_fraction": 1.0},
        {"device": "tpu"},
    ],
)
def test_bad_parameters_raise(lorenz, params):
    act, _ = lorenz
    with pytest.raises(NeuralscopeError):
        SequentialVAE(**dict(TINY, max_epochs=1, **params)).fit(act.data[:8])


def test_bad_heldout_neurons_raise(lorenz):
    act, _ = lorenz
    for bad in ([25], [-1], np.arange(20), np.ones(5, dtype=bool), [[1, 2]]):
        with pytest.raises(NeuralscopeError):
            SequentialVAE(max_epochs=1, **TINY).fit(act.data[:8], heldout_neurons=bad)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_cuda_fit_predicts_heldout_neurons(lorenz):
    act, s = lorenz
    model = SequentialVAE(max_epochs=20, **dict(TINY, device="cuda")).fit(act.data[s.train],
                                                                          heldout_neurons=s.heldout)
    assert model.device_.type == "cuda"
    rates = model.predict_rates(act.data[s.test])
    assert bits_per_spike(rates[:, s.heldout], act.data[s.test][:, s.heldout]) > 0.1
    again = SequentialVAE(max_epochs=20, **dict(TINY, device="cuda")).fit(act.data[s.train],
                                                                          heldout_neurons=s.heldout)
    # cuDNN's GRU is not bit-reproducible; the same seed stays close.
    np.testing.assert_allclose(again.predict_rates(act.data[s.test]), rates, rtol=0.05, atol=1e-3)
