"""Frame sources for the loop: a movie file replayed at its frame rate.

A source has ``fs``, ``n_frames``, ``frame_shape`` and ``read(index)``;
sources that can be stimulated (the simulated rig) also have
``stimulate(command)``. Files are opened lazily: one frame is read at a time.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from neuralscope.core.errors import NeuralscopeError

MOVIE_SUFFIXES = (".tif", ".tiff", ".zarr", ".npy", ".h5", ".hdf5")
NATIVE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.uint16))  # the kernels are compiled for these


class FileSource:
    """A movie on disk (TIFF, zarr, ``.npy`` or HDF5), frame by frame.

    Parameters
    ----------
    path : str or Path
        The movie: a multi-page TIFF, a zarr array (folder), a ``.npy``
        (memory-mapped) or an HDF5 file.
    fs : float
        Frame rate to replay at (Hz).
    dataset : str, optional
        HDF5 dataset / zarr array inside a group (default: the first 3-D one).
    n_frames : int, optional
        Replay only the first ``n_frames`` frames.
    """

    def __init__(self, path: str | Path, fs: float, dataset: str | None = None, n_frames: int | None = None):
        self.path = Path(path)
        if not (isinstance(fs, (int, float)) and math.isfinite(fs) and fs > 0):
            raise NeuralscopeError("fs", "a frame rate > 0 (Hz)", fs)
        self.fs = float(fs)
        if not self.path.exists():
            raise NeuralscopeError("source.path", "an existing movie file", str(self.path))
        suffix = self.path.suffix.lower()
        if suffix not in MOVIE_SUFFIXES:
            raise NeuralscopeError("source.path", f"a movie ending in one of {MOVIE_SUFFIXES}", str(self.path))
        self._file = None
        try:
            self._array = self._open(suffix, dataset)
        except NeuralscopeError:
            raise
        except Exception as exc:  # corrupt or unreadable file: one clear line
            raise NeuralscopeError("source.path", "a readable movie", f"{self.path.name}: {type(exc).__name__}: {exc}") from exc
        shape = tuple(self._array.shape)
        if len(shape) != 3 or shape[0] < 1 or min(shape[1:]) < 16:
            raise NeuralscopeError("source.path", "a (frames, height, width) movie with frames >= 1", shape)
        total = shape[0]
        if n_frames is not None:
            if not (isinstance(n_frames, int) and n_frames >= 1):
                raise NeuralscopeError("frames", "an integer >= 1", n_frames)
            total = min(total, n_frames)
        self.n_frames = int(total)
        self.frame_shape = (int(shape[1]), int(shape[2]))

    def _open(self, suffix: str, dataset: str | None):
        if suffix in (".tif", ".tiff"):
            import tifffile

            try:
                return tifffile.memmap(self.path, mode="r")
            except (ValueError, OSError):  # compressed or tiled: read page by page
                self._file = tifffile.TiffFile(self.path)
                return _TiffPages(self._file)
        if suffix == ".npy":
            return np.load(self.path, mmap_mode="r", allow_pickle=False)
        if suffix == ".zarr":
            import zarr

            node = zarr.open(str(self.path), mode="r")
            if hasattr(node, "shape"):
                return node
            name = dataset or next((k for k, v in node.arrays() if len(v.shape) == 3), None)
            if name is None:
                raise NeuralscopeError("source.path", "a zarr array or a group holding a 3-D array", str(self.path))
            return node[name]
        import h5py

        self._file = h5py.File(self.path, "r")
        if dataset is None:
            found = []
            self._file.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) and o.ndim == 3 else None)
            if not found:
                raise NeuralscopeError("source.path", "an HDF5 file with a 3-D dataset", str(self.path))
            dataset = found[0]
        return self._file[dataset]

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` (H, W): float32, float64 and uint16 as stored (no copy from a
        memory map), other types as float32."""
        if not 0 <= index < self.n_frames:
            raise NeuralscopeError("frame index", f"in [0, {self.n_frames})", index)
        frame = np.asarray(self._array[index])
        if frame.dtype not in NATIVE_DTYPES:
            frame = frame.astype(np.float32)
        return frame

    def first_frames(self, n: int) -> np.ndarray:
        """The first ``n`` frames (for the reference image)."""
        n = min(n, self.n_frames)
        return np.stack([self.read(i).astype(np.float32) for i in range(n)])

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class _TiffPages:
    """Page-by-page access to a TIFF that cannot be memory-mapped."""

    def __init__(self, tif):
        self._pages = tif.pages
        first = self._pages[0]
        self.shape = (len(self._pages), *first.shape[-2:])

    def __getitem__(self, index: int) -> np.ndarray:
        return self._pages[int(index)].asarray()


class ArraySource:
    """An in-memory movie (T, H, W) replayed frame by frame (tests, notebooks)."""

    def __init__(self, movie: np.ndarray, fs: float):
        arr = np.asarray(movie)
        if arr.ndim != 3 or arr.shape[0] < 1:
            raise NeuralscopeError("movie", "a (frames, height, width) array", arr.shape)
        if not (math.isfinite(fs) and fs > 0):
            raise NeuralscopeError("fs", "a frame rate > 0 (Hz)", fs)
        self._movie = arr
        self.fs = float(fs)
        self.n_frames = int(arr.shape[0])
        self.frame_shape = (int(arr.shape[1]), int(arr.shape[2]))

    def read(self, index: int) -> np.ndarray:
        return np.asarray(self._movie[index], dtype=np.float32)
