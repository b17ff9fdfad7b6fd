"""The sequential VAE as an ``embed --method seqvae`` embedding.

A continuous recording is cut into consecutive windows (pseudo-trials) for
the sequential VAE, and the latent factors of each window are laid back on
the time axis, so every time bin gets one ``dims``-dimensional point.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError


class SeqVAEEmbedding:
    """Latent factors of :class:`~neuralscope.manifold.seqvae.SequentialVAE` per time bin.

    Parameters
    ----------
    n_components : int
        Latent factors (embedding dimensions).
    window : int
        Bins per pseudo-trial when the input is a continuous (n_time,
        n_neurons) recording.
    max_epochs : int
        Training epochs at most (early stopping on validation windows).
    random_state : int, optional
        Seed of the model.
    """

    def __init__(self, n_components: int = 8, window: int = 32, max_epochs: int = 300, random_state: Any = None):
        self.n_components = n_components
        self.window = window
        self.max_epochs = max_epochs
        self.random_state = random_state

    def _windows(self, X: np.ndarray) -> tuple[np.ndarray, int]:
        """(n_windows, n_neurons, window) and the number of rows of the last,
        overlapping window that are new (the recording need not divide evenly)."""
        n, w = len(X), int(self.window)
        if n < w:
            raise NeuralscopeError("DATA", f"at least {w} time bins for seqvae windows", n)
        starts = list(range(0, n - w + 1, w))
        tail = n - (starts[-1] + w)
        if tail:
            starts.append(n - w)
        return np.stack([X[s:s + w].T for s in starts]), tail

    def _to_rows(self, factors: np.ndarray, tail: int) -> np.ndarray:
        rows = factors.transpose(0, 2, 1)  # windows x time x factors
        if tail:
            return np.concatenate([rows[:-1].reshape(-1, rows.shape[2]), rows[-1, -tail:]])
        return rows.reshape(-1, rows.shape[2])

    def fit(self, X: Any, y: Any = None) -> "SeqVAEEmbedding":
        from neuralscope.manifold.seqvae import SequentialVAE

        X = np.asarray(X, dtype=float)
        trials = X if X.ndim == 3 else self._windows(X)[0]
        self.model_ = SequentialVAE(self.n_components, max_epochs=self.max_epochs,
                                    random_state=self.random_state).fit(trials)
        return self

    def transform(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim == 3:  # trials in, (n_trials, n_time, dims) out
            return self.model_.transform(X).transpose(0, 2, 1)
        windows, tail = self._windows(X)
        return self._to_rows(self.model_.transform(windows), tail)

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        return self.fit(X, y).transform(X)
