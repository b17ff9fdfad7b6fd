"""Classical dimensionality reduction behind one scikit-learn-style API.

:class:`PCA` and :class:`FactorAnalysis` wrap scikit-learn; :class:`TSNE`
wraps openTSNE (which, unlike scikit-learn's t-SNE, can place new points into
an existing embedding) and :class:`UMAP` wraps umap-learn. The libraries do
the work; these classes add input checks with one-line errors, the
neuralscope data objects as input (trials come back as
``(n_trials, n_time, n_components)``) and seeding. openTSNE and umap-learn are
optional: ``pip install neuralscope[manifold]``.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA as _SkPCA
from sklearn.decomposition import FactorAnalysis as _SkFA
from sklearn.metrics import pairwise_distances
from sklearn.utils.validation import check_is_fitted

from neuralscope.core.errors import NeuralscopeError
from neuralscope.manifold._inputs import as_samples, check_n_components, check_varies, require_extra

__all__ = ["PCA", "TSNE", "UMAP", "FactorAnalysis"]


class _Embedding(TransformerMixin, BaseEstimator, metaclass=ABCMeta):
    """Shared fit / transform plumbing; subclasses implement ``_fit`` and ``_transform``."""

    @abstractmethod
    def _fit(self, X: np.ndarray) -> np.ndarray | None:
        """Fit on validated rows; may return the training embedding."""

    @abstractmethod
    def _transform(self, X: np.ndarray) -> np.ndarray:
        """Embed validated rows with the fitted model."""

    def _checked_fit(self, X: Any) -> tuple[Any, np.ndarray | None]:
        samples = as_samples(X)
        check_varies(samples.X)
        check_n_components(self.n_components, samples.X.shape[1], n_samples=samples.X.shape[0])
        self.n_features_in_ = samples.X.shape[1]
        return samples, self._fit(samples.X)

    def fit(self, X: Any, y: Any = None) -> _Embedding:
        """Fit on ``X``: (n_samples, n_neurons), (n_trials, n_neurons, n_time) or a data object."""
        self._checked_fit(X)
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        """Fit and return the embedding of ``X`` (for t-SNE / UMAP: the optimised layout itself)."""
        samples, Z = self._checked_fit(X)
        if Z is None:
            Z = self._transform(samples.X)
        return samples.restore(np.asarray(Z, dtype=float))

    def transform(self, X: Any) -> np.ndarray:
        """Embed new samples into the fitted space."""
        check_is_fitted(self, "n_features_in_")
        samples = as_samples(X)
        if samples.X.shape[1] != self.n_features_in_:
            raise NeuralscopeError("X", f"{self.n_features_in_} neurons as in fit", f"{samples.X.shape[1]} neurons")
        return samples.restore(np.asarray(self._transform(samples.X), dtype=float))


class PCA(_Embedding):
    """Principal component analysis (scikit-learn's, on neuralscope inputs).

    Parameters
    ----------
    n_components : int
        Number of components kept.
    whiten : bool
        Scale components to unit variance.
    random_state : int or None
        Seed of the randomised solver (used for large inputs).

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
    explained_variance_ratio_ : ndarray of shape (n_components,)
    mean_ : ndarray of shape (n_features,)

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(100, 5))
    >>> PCA(2).fit_transform(X).shape
    (100, 2)
    """

    def __init__(self, n_components: int = 3, *, whiten: bool = False, random_state: Any = None):
        self.n_components = n_components
        self.whiten = whiten
        self.random_state = random_state

    def _fit(self, X: np.ndarray) -> None:
        self.model_ = _SkPCA(self.n_components, whiten=self.whiten, random_state=self.random_state).fit(X)
        self.components_ = self.model_.components_
        self.explained_variance_ratio_ = self.model_.explained_variance_ratio_
        self.mean_ = self.model_.mean_

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return self.model_.transform(X)


class FactorAnalysis(_Embedding):
    """Factor analysis: shared latent factors plus independent per-neuron noise.

    Unlike PCA it does not let a single noisy neuron dominate a component,
    which suits spike counts with very different firing rates.

    Parameters
    ----------
    n_components : int
        Number of latent factors.
    rotation : {None, "varimax", "quartimax"}
        Optional rotation of the loadings.
    random_state : int or None
        Seed of the randomised SVD.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Loadings.
    noise_variance_ : ndarray of shape (n_features,)
        Private variance of each neuron.
    """

    def __init__(self, n_components: int = 3, *, rotation: str | None = None, random_state: Any = 0):
        self.n_components = n_components
        self.rotation = rotation
        self.random_state = random_state

    def _fit(self, X: np.ndarray) -> None:
        if self.rotation not in (None, "varimax", "quartimax"):
            raise NeuralscopeError("rotation", "None, 'varimax' or 'quartimax'", self.rotation)
        self.model_ = _SkFA(self.n_components, rotation=self.rotation, random_state=self.random_state).fit(X)
        self.components_ = self.model_.components_
        self.noise_variance_ = self.model_.noise_variance_

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return self.model_.transform(X)


# Below this many samples Barnes-Hut beats openTSNE's FFT solver on one core.
_TSNE_FFT_MIN = 2000


class TSNE(_Embedding):
    """t-SNE through openTSNE, with ``transform`` for new points.

    Parameters
    ----------
    n_components : int
        Embedding dimension (2 is what t-SNE is designed for; 3 uses the
        Barnes-Hut solver and is slower).
    perplexity : float
        Effective number of neighbours; lowered to ``(n_samples - 1) / 3``
        for small inputs, where openTSNE would fail.
    n_iter : int
        Optimisation iterations after the early-exaggeration phase.
    early_exaggeration_iter : int
        Iterations of the early-exaggeration phase.
    random_state : int or None
        Seed (the same int gives the same layout).

    Attributes
    ----------
    embedding_ : openTSNE.TSNEEmbedding
        The fitted layout (also what ``fit_transform`` returns, as an array).
    perplexity_ : float
        The perplexity used.
    """

    def __init__(self, n_components: int = 2, *, perplexity: float = 30.0, n_iter: int = 500,
                 early_exaggeration_iter: int = 250, random_state: Any = 0):
        self.n_components = n_components
        self.perplexity = perplexity
        self.n_iter = n_iter
        self.early_exaggeration_iter = early_exaggeration_iter
        self.random_state = random_state

    def _fit(self, X: np.ndarray) -> np.ndarray:
        open_tsne = require_extra("openTSNE", "method 'tsne'")
        if not float(self.perplexity) > 0:
            raise NeuralscopeError("perplexity", "a positive number", self.perplexity)
        self.perplexity_ = float(min(self.perplexity, (X.shape[0] - 1) / 3.0))
        # openTSNE's FFT solver only handles 1-D and 2-D layouts, and on small
        # inputs its fixed interpolation grid costs more than Barnes-Hut.
        method = "fft" if self.n_components <= 2 and X.shape[0] >= _TSNE_FFT_MIN else "bh"
        tsne = open_tsne.TSNE(
            n_components=self.n_components, perplexity=self.perplexity_, n_iter=int(self.n_iter),
            early_exaggeration_iter=int(self.early_exaggeration_iter), negative_gradient_method=method,
            random_state=self.random_state, n_jobs=1,
        )
        self.embedding_ = tsne.fit(X)
        return np.array(self.embedding_, dtype=float)  # a copy: openTSNE may move its own array later

    def _transform(self, X: np.ndarray) -> np.ndarray:
        # openTSNE places new points by optimising them against the fixed layout.
        return np.asarray(self.embedding_.transform(X, perplexity=min(5.0, self.perplexity_)))


# umap-learn compiles its numba functions in every new process (tens of
# seconds on a small CPU); asking numba to keep the compiled code on disk makes
# that a one-off cost per environment.
_UMAP_JIT_CACHED = False
# Below this many training samples umap-learn uses exact distances through a
# slow Python-level metric call; giving it the distance matrix is much faster.
_UMAP_EXACT_LIMIT = 4096


def _cache_umap_jit() -> None:
    global _UMAP_JIT_CACHED
    if _UMAP_JIT_CACHED:
        return
    _UMAP_JIT_CACHED = True
    try:
        import importlib

        from numba.core.registry import CPUDispatcher

        for name in ("umap.umap_", "umap.layouts", "umap.utils", "umap.distances", "umap.spectral",
                     "pynndescent.pynndescent_", "pynndescent.distances", "pynndescent.utils",
                     "pynndescent.rp_trees", "pynndescent.graph_utils"):
            module = importlib.import_module(name)
            for obj in vars(module).values():
                if isinstance(obj, CPUDispatcher) and type(obj._cache).__name__ == "NullCache":
                    obj.enable_caching()
    except Exception:  # pragma: no cover - an optimisation only; never fail a fit over it
        pass


class UMAP(_Embedding):
    """UMAP through umap-learn, with ``transform`` for new points.

    Parameters
    ----------
    n_components : int
        Embedding dimension.
    n_neighbors : int
        Size of the local neighbourhood (lowered for tiny inputs).
    min_dist : float
        Minimum distance between embedded points.
    metric : str
        Input-space metric (any name scikit-learn's ``pairwise_distances`` or
        umap-learn knows).
    n_epochs : int or None
        Layout optimisation epochs (None: umap-learn's default).
    random_state : int or None
        Seed; an int makes umap-learn single-threaded and reproducible.

    Attributes
    ----------
    model_ : umap.UMAP
        The fitted umap-learn model.
    """

    def __init__(self, n_components: int = 2, *, n_neighbors: int = 15, min_dist: float = 0.1,
                 metric: str = "euclidean", n_epochs: int | None = None, random_state: Any = 0):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.n_epochs = n_epochs
        self.random_state = random_state

    def _fit(self, X: np.ndarray) -> np.ndarray:
        umap = require_extra("umap", "method 'umap'")
        _cache_umap_jit()
        if isinstance(self.n_neighbors, bool) or not isinstance(self.n_neighbors, (int, np.integer)) \
                or self.n_neighbors < 2:
            raise NeuralscopeError("n_neighbors", "an integer >= 2", self.n_neighbors)
        self.n_neighbors_ = int(min(self.n_neighbors, X.shape[0] - 1))
        self.exact_ = X.shape[0] < _UMAP_EXACT_LIMIT
        self.X_fit_ = X if self.exact_ else None
        data = pairwise_distances(X, metric=self.metric) if self.exact_ else X
        self.model_ = umap.UMAP(
            n_components=self.n_components, n_neighbors=self.n_neighbors_, min_dist=self.min_dist,
            metric="precomputed" if self.exact_ else self.metric, n_epochs=self.n_epochs,
            random_state=self.random_state, n_jobs=1,
        )
        with _quiet_umap():
            return self.model_.fit_transform(data)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        data = pairwise_distances(X, self.X_fit_, metric=self.metric) if self.exact_ else X
        with _quiet_umap():
            return self.model_.transform(data)


@contextlib.contextmanager
def _quiet_umap() -> Iterator[None]:
    """Silence umap-learn's notices about choices made on purpose here
    (single thread for reproducibility, precomputed distances)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs value.*")
        warnings.filterwarnings("ignore", message=".*precomputed metric.*")
        warnings.filterwarnings("ignore", message=".*gradient function is not yet implemented.*")
        yield
