"""A classical membrane (boundary) estimate for EM, no training needed.

Membranes are thin dark sheets between brighter cell interiors. The black top-hat of the smoothed
image (grey closing minus image) responds to dark structures narrower than the closing window,
whatever the grey level of the cells around them, so it is robust to the contrast variation of EM.
The response is scaled to [0, 1] with two quantiles learnt once on the whole volume (``fit``), so a
block-wise run uses the same scale in every block.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError

__all__ = ["ClassicalBoundary"]


class ClassicalBoundary:
    """Membrane probability from raw EM by a black top-hat of the smoothed image.

    Parameters
    ----------
    sigma : float
        Gaussian smoothing (in-plane voxels) before the top-hat.
    closing_size : int
        Width (in-plane voxels) of the closing window; wider than a membrane, narrower than a cell.
    low_quantile, high_quantile : float
        Top-hat quantiles mapped to boundary 0 and 1.
    sampling : tuple of float
        Voxel size (z, y, x); a thicker z shrinks the z extent of the filters.
    dark_membranes : bool
        ``True`` for EM (dark membranes); ``False`` for inverted contrast.
    max_fit_voxels : int
        Voxels sampled (on a regular stride) to learn the quantiles.

    Attributes
    ----------
    low_, high_ : float
        The learnt top-hat values mapped to 0 and 1.

    Examples
    --------
    >>> from neuralscope.datasets.em import simulate_em_volume
    >>> vol = simulate_em_volume((12, 48, 48), random_state=0)
    >>> b = ClassicalBoundary().fit(vol.raw).transform(vol.raw)
    >>> bool(b[vol.membranes].mean() > b[~vol.membranes].mean())
    True
    """

    def __init__(self, sigma: float = 1.0, closing_size: int = 9, low_quantile: float = 0.3,
                 high_quantile: float = 0.95, sampling: tuple[float, float, float] = (1.0, 1.0, 1.0),
                 dark_membranes: bool = True, max_fit_voxels: int = 2_000_000):
        self.sigma = sigma
        self.closing_size = closing_size
        self.low_quantile = low_quantile
        self.high_quantile = high_quantile
        self.sampling = sampling
        self.dark_membranes = dark_membranes
        self.max_fit_voxels = max_fit_voxels

    def _sizes(self) -> tuple[tuple[float, ...], tuple[int, ...]]:
        sampling = np.asarray(self.sampling, float)
        if sampling.shape != (3,) or np.any(sampling <= 0):
            raise NeuralscopeError("sampling", "three positive voxel sizes", self.sampling)
        if not (isinstance(self.closing_size, (int, np.integer)) and self.closing_size >= 1):
            raise NeuralscopeError("closing_size", "an integer >= 1", self.closing_size)
        rel = sampling / sampling[1:].min()
        sigmas = tuple(float(self.sigma) / r for r in rel)
        sizes = tuple(max(1, int(round(self.closing_size / r)) | 1) for r in rel)
        return sigmas, sizes

    @property
    def halo(self) -> tuple[int, int, int]:
        """Context (voxels per side) that makes a block's response equal to the whole-volume one."""
        sigmas, sizes = self._sizes()
        return tuple(int(np.ceil(4 * s)) + k // 2 + 1 for s, k in zip(sigmas, sizes))

    def _tophat(self, raw: np.ndarray) -> np.ndarray:
        from scipy import ndimage as ndi

        sigmas, sizes = self._sizes()
        img = np.asarray(raw, np.float32)
        if not self.dark_membranes:
            img = -img
        smooth = ndi.gaussian_filter(img, sigmas, mode="reflect", truncate=4.0)
        return ndi.grey_closing(smooth, size=sizes, mode="reflect") - smooth

    def fit(self, raw: Any) -> ClassicalBoundary:
        """Learn the scale from (a regular subsample of) the volume.

        Parameters
        ----------
        raw : array-like or dask array, (z, y, x)

        Returns
        -------
        self
        """
        if len(getattr(raw, "shape", ())) != 3 or int(np.prod(raw.shape)) == 0:
            raise NeuralscopeError("raw", "a non-empty 3-D volume (z, y, x)", f"shape {getattr(raw, 'shape', None)}")
        if not 0 <= self.low_quantile < self.high_quantile <= 1:
            raise NeuralscopeError("low_quantile/high_quantile", "0 <= low < high <= 1",
                                   (self.low_quantile, self.high_quantile))
        # A central crop of at most max_fit_voxels: enough for two quantiles, bounded memory.
        shape = np.array(raw.shape)
        side = np.minimum(shape, np.maximum(16, np.round(shape * min(1.0, (self.max_fit_voxels / shape.prod()) ** (1 / 3)))).astype(int))
        start = (shape - side) // 2
        crop = raw[tuple(slice(int(a), int(a + s)) for a, s in zip(start, side))]
        crop = np.asarray(crop.compute() if hasattr(crop, "compute") else crop)
        response = self._tophat(crop)
        self.low_, self.high_ = (float(v) for v in np.quantile(response, [self.low_quantile, self.high_quantile]))
        if not self.high_ > self.low_:
            self.high_ = self.low_ + 1.0  # a flat volume: everything is interior
        return self

    def transform(self, raw: Any) -> np.ndarray:
        """Boundary probability in [0, 1] (float32, same shape as ``raw``)."""
        if not hasattr(self, "low_"):
            raise NeuralscopeError("ClassicalBoundary", "fit() before transform()", "an unfitted estimator")
        response = self._tophat(np.asarray(raw))
        return np.clip((response - self.low_) / (self.high_ - self.low_), 0.0, 1.0).astype(np.float32)

    def fit_transform(self, raw: Any) -> np.ndarray:
        """``fit(raw).transform(raw)``."""
        return self.fit(raw).transform(raw)
