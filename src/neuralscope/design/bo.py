"""Bayesian optimisation: fit a GP to what was observed, maximise an acquisition, suggest."""

from __future__ import annotations

import time

import numpy as np

from neuralscope.core.errors import NeuralscopeError
from neuralscope.design.acquisition import ACQUISITIONS, make_acquisition, optimize_acquisition
from neuralscope.design.gp import KERNELS, GaussianProcess
from neuralscope.design.space import SearchSpace


class BayesianOptimizer:
    """Suggests points of a :class:`SearchSpace` that maximise an objective.

    Parameters
    ----------
    space : SearchSpace
    acquisition : {"logei", "noisy_logei", "qnei", "ucb"}
        For noisy objectives: ``noisy_logei`` (plug-in incumbent, cheap) or
        ``qnei`` (EI averaged over posterior samples of the incumbent).
    kernel : {"matern52", "rbf"}
    beta : float
        UCB exploration weight.
    n_restarts : int
        GP hyper-parameter restarts.
    n_raw, n_starts : int
        Raw candidates and L-BFGS-B starts of the acquisition optimiser.
    random_state : int
    """

    def __init__(self, space: SearchSpace, acquisition: str = "logei", kernel: str = "matern52", beta: float = 4.0,
                 n_restarts: int = 2, n_raw: int = 1024, n_starts: int = 8, random_state: int = 0):
        self.space = space
        self.acquisition = acquisition
        self.kernel = kernel
        self.beta = beta
        self.n_restarts = n_restarts
        self.n_raw = n_raw
        self.n_starts = n_starts
        self.random_state = random_state

    def fit_model(self, X: np.ndarray, y: np.ndarray, warm_start: np.ndarray | None = None) -> GaussianProcess:
        """A GP on encoded points ``X`` (n, D) in the unit cube and values ``y`` (maximised)."""
        bounds = np.tile([0.0, 1.0], (self.space.dim, 1))
        return GaussianProcess(kernel=self.kernel, n_restarts=self.n_restarts, bounds=bounds,
                               random_state=self.random_state).fit(X, y, warm_start=warm_start)

    def suggest(self, X: np.ndarray, y: np.ndarray, n: int = 1, rng: np.random.Generator | None = None,
                warm_start: np.ndarray | None = None, pending: np.ndarray | None = None) -> np.ndarray:
        """``n`` encoded points to evaluate next (a batch by Kriging believer).

        After each pick the model is conditioned on its posterior mean there
        (same hyper-parameters), which shrinks the uncertainty around it so
        the next pick goes elsewhere. ``pending`` (encoded points suggested
        but not yet observed) are believed the same way before the first pick.
        """
        if self.acquisition not in ACQUISITIONS:
            raise NeuralscopeError("acquisition", f"one of {ACQUISITIONS}", self.acquisition)
        if self.kernel not in KERNELS:
            raise NeuralscopeError("kernel", f"one of {KERNELS}", self.kernel)
        if not (isinstance(n, (int, np.integer)) and n >= 1):
            raise NeuralscopeError("n", "an integer >= 1", n)
        rng = rng if rng is not None else np.random.default_rng(self.random_state)
        X = np.asarray(X, float)
        y = np.asarray(y, float)
        t0 = time.perf_counter()
        gp = self.fit_model(X, y, warm_start)
        self.model_ = gp
        self.fit_seconds_ = time.perf_counter() - t0
        picks: list[np.ndarray] = []
        X_seen = X
        if pending is not None and len(pending):
            pending = np.atleast_2d(np.asarray(pending, float))
            gp = gp.condition_on(pending, gp.predict(pending))
            X_seen = np.vstack([X, pending])
        for _ in range(n):
            best = float(np.max(gp.y_train_))
            acq = make_acquisition(self.acquisition, gp, best, self.beta, rng=rng)
            x, _ = optimize_acquisition(acq, gp, self.space, rng, X_obs=X_seen, n_raw=self.n_raw,
                                        n_starts=self.n_starts, exclude=X_seen)
            picks.append(x)
            if len(picks) < n:
                believed = gp.predict(x[None, :])
                gp = gp.condition_on(x[None, :], believed)
                X_seen = np.vstack([X_seen, x])
        self.suggest_seconds_ = time.perf_counter() - t0
        return np.stack(picks)
