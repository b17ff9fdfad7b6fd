"""Imaging movies in and out as lazy dask arrays (frames x rows x columns).

Readers open a file only to check it and read its shape; frames are read chunk
by chunk when the dask graph runs, so a movie larger than memory streams.
Every reader object is picklable (it re-opens its file per chunk), so the
same graph runs on a ``dask.distributed`` cluster.

- :func:`read_movie` -- TIFF (multi-page, BigTIFF), a folder of one-frame TIFFs,
  HDF5 (``dataset=`` path), zarr, NWB ``TwoPhotonSeries``
- :func:`write_movie_zarr` -- stream a (registered) movie to a zarr array, chunk by chunk
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError

#: File name endings :func:`read_movie` understands.
TIFF_SUFFIXES = (".tif", ".tiff")
HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf")
NWB_SUFFIXES = (".nwb",)
ZARR_SUFFIXES = (".zarr",)
#: Default number of frames per dask chunk.
DEFAULT_CHUNK_FRAMES = 200


def _natural_key(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


class _LogErrors:
    """Collects ERROR records of tifffile's logger (it logs, rather than raises, on a broken page chain)."""

    def __enter__(self):
        import logging

        self.records: list[str] = []
        handler = logging.Handler(level=logging.ERROR)
        handler.emit = lambda record: self.records.append(record.getMessage())  # type: ignore[method-assign]
        self.handler = handler
        self.logger = logging.getLogger("tifffile")
        self.logger.addHandler(handler)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        return False


class _TiffFrames:
    """Pages of one multi-page TIFF, read on demand (picklable)."""

    def __init__(self, path: Path):
        import tifffile

        self.path = str(path)
        size = os.path.getsize(path)
        try:
            with _LogErrors() as log, tifffile.TiffFile(self.path) as tif:
                pages = tif.pages
                n = len(pages)
                if log.records:
                    raise NeuralscopeError("MOVIE", "a complete TIFF file", f"{path} is truncated or corrupt "
                                           f"({log.records[0]})")
                series = tif.series[0] if tif.series else None
                if series is not None and len(series.shape) >= 3 and int(np.prod(series.shape[:-2])) > n:
                    raise NeuralscopeError("MOVIE", "a complete TIFF file",
                                           f"{path} is truncated ({n} of {int(np.prod(series.shape[:-2]))} frames)")
                if n == 0:
                    raise NeuralscopeError("MOVIE", "a TIFF with at least one frame", f"{path} has no pages")
                first = pages.first
                shape = tuple(first.shape)
                dtype = first.dtype
                # A truncated file keeps its page headers but loses image data: check that
                # every page's strips lie inside the file (metadata only, no pixels read).
                for page in pages:
                    offsets, counts = page.dataoffsets, page.databytecounts
                    if page.shape != first.shape:
                        raise NeuralscopeError("MOVIE", "TIFF pages of one shape", f"{page.shape} and {first.shape}")
                    if len(offsets) and max(o + c for o, c in zip(offsets, counts)) > size:
                        raise NeuralscopeError("MOVIE", "a complete TIFF file", f"{path} is truncated")
        except NeuralscopeError:
            raise
        except Exception as exc:  # tifffile's own errors for a corrupt header
            raise NeuralscopeError("MOVIE", "a readable TIFF file", f"{path}: {exc}") from None
        if len(shape) == 3 and n == 1:  # a single page holding a whole (T, H, W) stack
            self.n_pages_stack = True
            self.shape = shape
        elif len(shape) == 2:
            self.n_pages_stack = False
            self.shape = (n, *shape)
        else:
            raise NeuralscopeError("MOVIE", "2-D TIFF pages (frames of rows x columns)", f"pages of shape {shape}")
        self.dtype = np.dtype(dtype)
        self.ndim = 3

    def __getitem__(self, key: tuple) -> np.ndarray:
        import tifffile

        tkey = key[0] if isinstance(key, tuple) else key
        start, stop, step = tkey.indices(self.shape[0])
        rest = key[1:] if isinstance(key, tuple) else ()
        with tifffile.TiffFile(self.path) as tif:
            if self.n_pages_stack:
                frames = tif.pages.first.asarray()[start:stop:step]
            else:
                idx = list(range(start, stop, step))
                frames = tif.asarray(key=idx) if idx else np.zeros((0, *self.shape[1:]), self.dtype)
                frames = frames.reshape(len(idx), *self.shape[1:])
        return frames[(slice(None), *rest)]


class _TiffFolderFrames:
    """A folder of one-frame TIFF files, in natural name order (picklable)."""

    def __init__(self, folder: Path):
        files = sorted((p for p in folder.iterdir() if p.suffix.lower() in TIFF_SUFFIXES),
                       key=lambda p: _natural_key(p.name))
        if not files:
            raise NeuralscopeError("MOVIE", "a folder holding .tif/.tiff frames", f"{folder} has none")
        self.files = [str(p) for p in files]
        first = _TiffFrames(files[0])
        if first.shape[0] != 1:
            raise NeuralscopeError("MOVIE", "one frame per TIFF file in a folder",
                                   f"{files[0].name} has {first.shape[0]}")
        # Every file must at least be a TIFF of the same size; its pages are checked when read.
        size0 = os.path.getsize(files[0])
        for p in files[1:]:
            if os.path.getsize(p) < size0 // 2:
                _TiffFrames(p)  # raises the precise error for a truncated or corrupt frame
        self.shape = (len(files), *first.shape[1:])
        self.dtype = first.dtype
        self.ndim = 3

    def __getitem__(self, key: tuple) -> np.ndarray:
        import tifffile

        tkey = key[0] if isinstance(key, tuple) else key
        rest = key[1:] if isinstance(key, tuple) else ()
        idx = range(*tkey.indices(self.shape[0]))
        out = np.empty((len(idx), *self.shape[1:]), self.dtype)
        for j, i in enumerate(idx):
            try:
                frame = tifffile.imread(self.files[i])
            except Exception as exc:
                raise NeuralscopeError("MOVIE", "readable TIFF frames", f"{self.files[i]}: {exc}") from None
            if frame.shape != self.shape[1:]:
                raise NeuralscopeError("MOVIE", f"frames of shape {self.shape[1:]}", f"{self.files[i]}: {frame.shape}")
            out[j] = frame
        return out[(slice(None), *rest)]


class _H5Frames:
    """One dataset of an HDF5 file, opened per read (picklable)."""

    def __init__(self, path: Path, dataset: str):
        import h5py

        self.path, self.dataset = str(path), dataset
        with h5py.File(self.path, "r") as f:
            if dataset not in f or not isinstance(f[dataset], h5py.Dataset):
                raise NeuralscopeError("--dataset", f"a dataset path in {path.name}", dataset)
            d = f[dataset]
            self.shape, self.dtype = tuple(d.shape), d.dtype
        self.ndim = len(self.shape)

    def __getitem__(self, key: tuple) -> np.ndarray:
        import h5py

        with h5py.File(self.path, "r") as f:
            return f[self.dataset][key]


def _find_h5_dataset(path: Path) -> str:
    import h5py

    found: list[str] = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) and obj.ndim == 3 else None)
    if len(found) != 1:
        raise NeuralscopeError("--dataset", f"the dataset path (the file has 3-D datasets {found})", "nothing")
    return found[0]


def _nwb_series_dataset(path: Path, series: str | None) -> str:
    """The HDF5 path of a TwoPhotonSeries' data inside an NWB file."""
    from pynwb import NWBHDF5IO
    from pynwb.ophys import TwoPhotonSeries

    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        found = {name: obj for name, obj in nwb.acquisition.items() if isinstance(obj, TwoPhotonSeries)}
        if series is None:
            if len(found) != 1:
                raise NeuralscopeError("--dataset", f"the TwoPhotonSeries name (found {sorted(found)})", "nothing")
            series = next(iter(found))
        if series not in found:
            raise NeuralscopeError("--dataset", f"one of the TwoPhotonSeries {sorted(found)}", series)
        if found[series].external_file is not None:
            raise NeuralscopeError("MOVIE", "a TwoPhotonSeries with its data inside the file", "external_file")
    return f"acquisition/{series}/data"


def _check_shape(shape: tuple, source: Any) -> None:
    if len(shape) != 3:
        raise NeuralscopeError("MOVIE", "a 3-D movie (frames x rows x columns)",
                               f"{len(shape)}-D data of shape {shape}")
    if shape[0] == 0:
        raise NeuralscopeError("MOVIE", "at least one frame", f"a zero-length movie ({source})")
    if shape[1] < 8 or shape[2] < 8:
        raise NeuralscopeError("MOVIE", "frames of at least 8 x 8 pixels", f"shape {shape}")


def as_movie(array: Any, chunk_frames: int = DEFAULT_CHUNK_FRAMES):
    """Wrap an in-memory array (or a dask array) as a checked (T, H, W) dask movie.

    Parameters
    ----------
    array : array-like or dask.array.Array
        Frames x rows x columns, real numbers.
    chunk_frames : int
        Frames per chunk.

    Returns
    -------
    dask.array.Array
        Chunked over frames only.
    """
    import dask.array as da

    arr = array if isinstance(array, da.Array) else np.asarray(array)
    _check_shape(tuple(arr.shape), "array")
    if arr.dtype.kind not in "uif":
        raise NeuralscopeError("MOVIE", "real-valued pixels", str(arr.dtype))
    if not isinstance(arr, da.Array):
        return da.from_array(arr, chunks=(int(chunk_frames), -1, -1), name=False)
    return arr.rechunk((int(chunk_frames), -1, -1))


def read_movie(source: str | os.PathLike, dataset: str | None = None,
               chunk_frames: int = DEFAULT_CHUNK_FRAMES):
    """Open a two-photon movie lazily.

    Parameters
    ----------
    source : str or PathLike
        A ``.tif``/``.tiff`` file (multi-page or BigTIFF), a folder of one-frame
        TIFF files (read in natural name order), an HDF5 file, a ``.zarr`` store
        or an ``.nwb`` file with a ``TwoPhotonSeries`` in ``acquisition``.
    dataset : str, optional
        The dataset path inside an HDF5 file or zarr group, or the
        TwoPhotonSeries name in an NWB file; found automatically when the file
        holds exactly one candidate.
    chunk_frames : int
        Frames per dask chunk (the unit of streaming).

    Returns
    -------
    dask.array.Array
        Shape (T, H, W), chunked over frames, dtype as stored.

    Raises
    ------
    NeuralscopeError
        Missing, corrupt or truncated file, data that is not 3-D, a
        zero-length movie, non-numeric pixels.
    """
    import dask.array as da

    if not (isinstance(chunk_frames, (int, np.integer)) and chunk_frames >= 1):
        raise NeuralscopeError("chunk_frames", "an integer >= 1", chunk_frames)
    path = Path(source)
    if not path.exists():
        raise NeuralscopeError("MOVIE", "an existing movie file or folder", str(source))
    suffix = path.suffix.lower()
    if suffix in ZARR_SUFFIXES or (path.is_dir() and ((path / "zarr.json").exists() or (path / ".zarray").exists())):
        import zarr

        try:
            node = zarr.open(str(path), mode="r")
            if not hasattr(node, "shape"):
                if dataset is None:
                    names = [k for k, v in node.arrays()]
                    if len(names) != 1:
                        raise NeuralscopeError("--dataset", f"the array name (the group has {names})", "nothing")
                    dataset = names[0]
                node = node[dataset]
        except NeuralscopeError:
            raise
        except Exception as exc:
            raise NeuralscopeError("MOVIE", "a readable zarr array or group", f"{path}: {exc}") from None
        _check_shape(tuple(node.shape), path)
        movie = da.from_zarr(node)
    elif path.is_dir():
        frames = _TiffFolderFrames(path)
        _check_shape(frames.shape, path)
        movie = da.from_array(frames, chunks=(chunk_frames, -1, -1), asarray=True, fancy=False, name=f"tiffdir-{path}")
    elif suffix in TIFF_SUFFIXES:
        frames = _TiffFrames(path)
        _check_shape(frames.shape, path)
        movie = da.from_array(frames, chunks=(chunk_frames, -1, -1), asarray=True, fancy=False,
                              name=f"tiff-{path}-{os.path.getmtime(path)}")
    elif suffix in HDF5_SUFFIXES + NWB_SUFFIXES:
        import h5py

        try:
            h5py.File(path, "r").close()
        except Exception as exc:
            raise NeuralscopeError("MOVIE", "a readable HDF5/NWB file", f"{path}: {exc}") from None
        if suffix in NWB_SUFFIXES:
            dataset = _nwb_series_dataset(path, dataset)
        elif dataset is None:
            dataset = _find_h5_dataset(path)
        frames = _H5Frames(path, dataset)
        _check_shape(frames.shape, f"{path}:{dataset}")
        movie = da.from_array(frames, chunks=(chunk_frames, -1, -1), asarray=True, fancy=False,
                              name=f"h5-{path}-{dataset}-{os.path.getmtime(path)}")
    else:
        raise NeuralscopeError("MOVIE", "a .tif/.tiff, .h5/.hdf5, .zarr or .nwb movie, or a folder of TIFFs",
                               str(source))
    if movie.dtype.kind not in "uif":
        raise NeuralscopeError("MOVIE", "real-valued pixels", str(movie.dtype))
    return movie.rechunk((int(chunk_frames), -1, -1))


def write_movie_zarr(movie: Any, path: str | os.PathLike, chunk_frames: int | None = None,
                     dtype: Any = None) -> Path:
    """Write a movie to a zarr array, streamed chunk by chunk.

    Parameters
    ----------
    movie : dask.array.Array or array-like
        (T, H, W) frames.
    path : str or PathLike
        Destination ``.zarr`` folder (must not exist).
    chunk_frames : int, optional
        Frames per stored chunk (default: the movie's chunking over frames).
    dtype : numpy dtype, optional
        Stored type (default: the movie's).

    Returns
    -------
    Path
        The store written.
    """
    import dask.array as da

    target = Path(path)
    if target.exists():
        raise NeuralscopeError("path", "a zarr path that does not exist yet", str(target))
    mov = movie if isinstance(movie, da.Array) else as_movie(movie)
    if dtype is not None:
        mov = mov.astype(dtype)
    if chunk_frames is not None:
        mov = mov.rechunk((int(chunk_frames), -1, -1))
    else:
        mov = mov.rechunk((mov.chunks[0][0], -1, -1))
    da.to_zarr(mov, str(target), overwrite=False)
    return target
