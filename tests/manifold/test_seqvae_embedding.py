"""`embed --method seqvae`: the sequential VAE's factors, one point per time bin."""

import numpy as np
import pytest

from neuralscope.core import ContinuousActivity, NeuralscopeError
from neuralscope.datasets import simulate_lorenz_population
from neuralscope.manifold.analysis import run_embedding
from neuralscope.manifold.seqvae_embedding import SeqVAEEmbedding


def _continuous_lorenz():
    # 32-bin trials back to back: the default 32-bin windows line up with them.
    trials = simulate_lorenz_population(n_neurons=20, n_trials=40, n_time=32, random_state=0)
    X = trials.data.transpose(0, 2, 1).reshape(-1, trials.n_neurons)  # 1280 bins
    latent = trials.attrs["latents"].transpose(0, 2, 1).reshape(-1, 3)
    return X, latent


def test_windows_cover_every_bin_once_even_with_a_remainder():
    emb = SeqVAEEmbedding(window=8)
    X = np.arange(30 * 2, dtype=float).reshape(30, 2)
    windows, tail = emb._windows(X)
    assert windows.shape == (4, 2, 8) and tail == 6
    fake = windows.transpose(0, 2, 1)[:, :, :1].transpose(0, 2, 1)  # factors = first neuron
    np.testing.assert_array_equal(emb._to_rows(fake, tail)[:, 0], X[:, 0])


def test_seqvae_embedding_tracks_the_true_latents():
    X, latent = _continuous_lorenz()
    act = ContinuousActivity(X, fs=50.0, covariates={"latent": latent})
    res = run_embedding(act, method="seqvae", dims=3, target="latent", train_fraction=0.75, seed=0,
                        estimator=SeqVAEEmbedding(3, max_epochs=80, random_state=0))
    assert res.embedding.shape == (1280, 3)
    # Held-out k-NN from factors to the true Lorenz state (measured 0.80; PCA gets 0.78 here
    # with the default training length, and 0 is chance).
    assert res.metrics["knn_r2_test"] > 0.6


def test_seqvae_embedding_rejects_too_short_recordings():
    with pytest.raises(NeuralscopeError, match="seqvae"):
        SeqVAEEmbedding(window=32).fit(np.ones((10, 3)))
