"""EM volumes as lazy dask arrays: zarr, HDF5, TIFF stacks, PNG/TIFF slice folders, ``.npy``.

:func:`open_volume` never reads voxels up front; chunks are read when a computation needs them, so
a volume larger than memory can be processed block by block (see ``blockwise``). A chunk that
cannot be read raises :class:`VolumeReadError` (a :class:`NeuralscopeError`, picklable so that it
crosses a ``dask.distributed`` cluster intact) naming the file and the region.

:func:`load_fib25`, :func:`load_isbi2012` and :func:`load_drosophila_vnc` read the real sets of
``../shared/data/em`` (their SOURCES.md gives provenance and licences).
"""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError

__all__ = ["FIB25_TEST_Z", "VolumeReadError", "em_data_root", "load_drosophila_vnc", "load_fib25",
           "load_isbi2012", "open_volume", "write_zarr"]

#: FIB-25 protocol: tune on z < 125, report on z >= 125.
FIB25_TEST_Z = 125
_IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg")


class VolumeReadError(NeuralscopeError):
    """A chunk of a volume could not be read (corrupt or missing file, truncated chunk)."""

    def __reduce__(self):  # rebuild from the three fields after a trip through pickle
        return (type(self), (self.parameter, self.expected, self.received))


class _SafeSource:
    """Array-like wrapper whose reads turn any failure into a :class:`VolumeReadError`."""

    def __init__(self, source: Any, shape: tuple[int, ...], dtype: np.dtype, name: str,
                 reader: Any = None):
        self.source = source
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.ndim = len(self.shape)
        self.name = name
        self.reader = reader  # callable(key) when the source needs opening per read (HDF5)

    def __getitem__(self, key: Any) -> np.ndarray:
        try:
            out = self.reader(key) if self.reader is not None else self.source[key]
            return np.asarray(out)
        except VolumeReadError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of the storage layer is bad input
            raise VolumeReadError(self.name, "readable chunks", f"region {_describe(key)}: "
                                  f"{type(exc).__name__}: {exc}") from None


def _describe(key: Any) -> str:
    if isinstance(key, tuple):
        return "[" + ", ".join(f"{k.start}:{k.stop}" if isinstance(k, slice) else str(k) for k in key) + "]"
    return str(key)


def _dask_from(source: _SafeSource, chunks: Any):
    import dask.array as da

    return da.from_array(source, chunks=chunks, asarray=True, fancy=False, name=f"volume-{source.name}-{id(source)}")


def _open_zarr(path: Path, chunks: Any):
    import zarr

    try:
        z = zarr.open_array(str(path), mode="r")
    except Exception as exc:  # noqa: BLE001
        raise NeuralscopeError(str(path), "a readable zarr array", f"{type(exc).__name__}: {exc}") from None
    if chunks == "auto":
        chunks = z.chunks
    return _dask_from(_SafeSource(z, z.shape, z.dtype, str(path)), chunks)


def _open_hdf5(path: Path, dataset: str | None, chunks: Any):
    import h5py

    try:
        with h5py.File(path, "r") as h:
            if dataset is None:
                names: list[str] = []
                h.visititems(lambda n, obj: names.append(n) if isinstance(obj, h5py.Dataset) and obj.ndim >= 3 else None)
                if not names:
                    raise NeuralscopeError(str(path), "an HDF5 file with a 3-D dataset", "none found")
                dataset = "raw" if "raw" in names else ("stack" if "stack" in names else names[0])
            if dataset not in h:
                raise NeuralscopeError(str(path), f"a dataset named {dataset!r}", f"keys {list(h.keys())}")
            ds = h[dataset]
            shape, dtype, native = ds.shape, ds.dtype, ds.chunks
    except NeuralscopeError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise NeuralscopeError(str(path), "a readable HDF5 file", f"{type(exc).__name__}: {exc}") from None

    def read(key: Any, _path=str(path), _ds=dataset) -> np.ndarray:
        # Open per read: an h5py handle cannot be pickled to a worker process.
        with h5py.File(_path, "r") as h:
            return h[_ds][key]

    if chunks == "auto":
        chunks = native if native else "auto"
    return _dask_from(_SafeSource(None, shape, dtype, f"{path}:{dataset}", read), chunks)


def _open_npy(path: Path, chunks: Any):
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # noqa: BLE001
        raise NeuralscopeError(str(path), "a readable .npy file", f"{type(exc).__name__}: {exc}") from None
    return _dask_from(_SafeSource(arr, arr.shape, arr.dtype, str(path)), chunks)


def _read_image(path: str) -> np.ndarray:
    if path.lower().endswith((".tif", ".tiff")):
        import tifffile

        return tifffile.imread(path)
    import imageio.v3 as iio

    return iio.imread(path)


def _stack_from_files(files: list[str], name: str, key_reader: Any = None):
    import dask
    import dask.array as da

    first = key_reader(0) if key_reader is not None else _read_image(files[0])
    planes = []
    for i, f in enumerate(files):
        def read(i=i, f=f):
            try:
                img = np.asarray(key_reader(i) if key_reader is not None else _read_image(f))
            except Exception as exc:  # noqa: BLE001
                raise VolumeReadError(name, "readable slices", f"slice {i} ({f}): {type(exc).__name__}: {exc}") from None
            if img.shape != first.shape:
                raise VolumeReadError(name, f"every slice of shape {first.shape}", f"slice {i} has {img.shape}")
            return img
        planes.append(da.from_delayed(dask.delayed(read, pure=True)(), first.shape, dtype=first.dtype))
    return da.stack(planes)


def _open_tiff(path: Path, chunks: Any):
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            shape, dtype, n_pages = series.shape, series.dtype, len(series.pages)
    except Exception as exc:  # noqa: BLE001
        raise NeuralscopeError(str(path), "a readable TIFF file", f"{type(exc).__name__}: {exc}") from None
    if len(shape) == 3 and n_pages == shape[0]:
        arr = _stack_from_files([str(path)] * n_pages, str(path), key_reader=lambda i: tifffile.imread(path, key=i))
    else:
        arr = _dask_from(_SafeSource(None, shape, dtype, str(path), reader=lambda key: tifffile.imread(path)[key]), -1)
    return arr.rechunk(chunks) if chunks != "auto" else arr


def open_volume(source: str | os.PathLike, dataset: str | None = None, chunks: Any = "auto"):
    """Open an EM volume lazily as a dask array (z, y, x).

    Parameters
    ----------
    source : path
        A zarr array folder (``*.zarr``), an HDF5 file (``.h5``, ``.hdf5``, ``.hdf``), a TIFF
        (multi-page = one page per z), a folder of PNG/TIFF slices (sorted by name), or ``.npy``.
    dataset : str, optional
        HDF5 dataset name (default: ``raw``, ``stack`` or the first dataset with >= 3 dimensions).
    chunks : "auto", int or tuple
        Dask chunks (default: the storage chunks, one slice for slice folders).

    Returns
    -------
    dask.array.Array

    Raises
    ------
    NeuralscopeError
        When the path is missing or not a volume this function reads; :class:`VolumeReadError`
        (at compute time) when a chunk cannot be read.
    """
    path = Path(source)
    if not path.exists():
        raise NeuralscopeError("volume", "an existing file or folder", str(path))
    suffix = path.suffix.lower()
    if path.is_dir():
        if suffix == ".zarr" or (path / "zarr.json").exists() or (path / ".zarray").exists():
            arr = _open_zarr(path, chunks)
        else:
            files = sorted(str(p) for p in path.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
            if not files:
                raise NeuralscopeError("volume", "a zarr array or a folder of PNG/TIFF slices", f"{path} (no images)")
            arr = _stack_from_files(files, str(path))
            if chunks != "auto":
                arr = arr.rechunk(chunks)
    elif suffix in (".h5", ".hdf5", ".hdf"):
        arr = _open_hdf5(path, dataset, chunks)
    elif suffix in (".tif", ".tiff"):
        arr = _open_tiff(path, chunks)
    elif suffix == ".npy":
        arr = _open_npy(path, chunks)
    else:
        raise NeuralscopeError("volume", "a zarr folder, HDF5, TIFF, slice folder or .npy file", str(path))
    if arr.ndim != 3:
        raise NeuralscopeError("volume", "a 3-D volume (z, y, x)", f"{path} has shape {arr.shape}")
    return arr


def write_zarr(array: Any, path: str | os.PathLike, chunks: tuple[int, ...] | None = None,
               dtype: Any = None) -> Path:
    """Write an array (numpy or dask) to a zarr array folder, chunk by chunk.

    Parameters
    ----------
    array : numpy.ndarray or dask.array.Array
    path : path
        Destination folder (created; replaced if it exists).
    chunks : tuple of int, optional
        Storage chunks (default: the dask chunks, or 64^3 for numpy input).
    dtype : numpy dtype, optional
        Stored dtype (default: the array's).

    Returns
    -------
    pathlib.Path
    """
    import dask.array as da
    import zarr

    arr = array if isinstance(array, da.Array) else da.from_array(np.asarray(array), chunks=chunks or 64)
    if dtype is not None:
        arr = arr.astype(dtype)
    if chunks is None:
        chunks = tuple(max(c) for c in arr.chunks)
    arr = arr.rechunk(chunks)
    target = zarr.open_array(str(path), mode="w", shape=arr.shape, chunks=chunks, dtype=arr.dtype, fill_value=0)
    da.store(arr, target, lock=False)
    return Path(path)


def em_data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder of the real EM sets: ``root``, ``$NEURALSCOPE_SHARED_DATA/em``, or ``../shared/data/em``
    beside the repository."""
    if root is not None:
        path = Path(root)
    elif os.environ.get("NEURALSCOPE_SHARED_DATA"):
        path = Path(os.environ["NEURALSCOPE_SHARED_DATA"]) / "em"
    else:
        path = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "em"
    if not path.is_dir():
        raise NeuralscopeError("EM data folder", "an existing folder (see ../shared/data/em)", str(path))
    return path


def _h5gz(path: Path) -> dict[str, np.ndarray]:
    import h5py

    with gzip.open(path, "rb") as f:
        with h5py.File(io.BytesIO(f.read()), "r") as h:
            return {k: h[k][()] for k in h.keys()}


def _bodies(d: dict[str, np.ndarray]) -> np.ndarray:
    """neuroproof layout: ``stack`` = supervoxel ids, ``transforms`` = (supervoxel, body) rows."""
    stack, transforms = d["stack"], d["transforms"].astype(np.int64)
    lut = np.arange(int(stack.max()) + 1, dtype=np.int64)
    lut[transforms[:, 0]] = transforms[:, 1]
    return lut[stack].astype(np.uint64)


def load_fib25(root: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """FIB-25 ``training_sample2``: 250^3 FIB-SEM of the fly medulla at 10 nm (CC-BY 3.0).

    Returns
    -------
    dict
        ``raw`` (uint8), ``truth`` (uint64 body ids, 0 = unlabelled), ``watershed`` (the shipped
        over-segmentation, body ids), ``ffn`` (Google's FFN result, ids relabelled to connected
        components because the file reuses uint8 ids; 0 = not segmented by FFN).
    """
    import imageio.v3 as iio
    from skimage.measure import label

    d = em_data_root(root) / "fib25_training_sample2"
    files = sorted((d / "grayscale_maps").glob("*.png"))
    if not files:
        raise NeuralscopeError("FIB-25", "grayscale_maps/*.png", f"none in {d}")
    raw = np.stack([iio.imread(f) for f in files]).astype(np.uint8)
    truth = _bodies(_h5gz(d / "groundtruth.h5.gz"))
    watershed = _bodies(_h5gz(d / "oversegmented_stack_labels.h5.gz"))
    with np.load(d / "ffn_result_sample-training2.npz", allow_pickle=False) as z:
        ffn_ids = z["segmentation"]
    # uint8 ids are reused for distant objects: one id per 6-connected piece (0 stays 0).
    ffn = label(ffn_ids.astype(np.int64), background=0, connectivity=1).astype(np.uint64)
    return {"raw": raw, "truth": truth, "watershed": watershed, "ffn": ffn, "ffn_raw_ids": ffn_ids}


def load_isbi2012(root: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """ISBI 2012 ssTEM training stack, 30 x 512 x 512 (~4 x 4 x 50 nm; licence not stated: tests only).

    Returns
    -------
    raw : numpy.ndarray, uint8
    membrane : numpy.ndarray, bool
        True on membranes (the files store 0 = membrane, 255 = cell).
    """
    import imageio.v3 as iio

    d = em_data_root(root) / "isbi2012_zhixuhao_unet"
    raw = np.stack([iio.imread(d / "image" / f"{i}.png") for i in range(30)])
    lab = np.stack([iio.imread(d / "label" / f"{i}.png") for i in range(30)])
    return raw.astype(np.uint8), lab < 128


def load_drosophila_vnc(root: str | os.PathLike | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """ssTEM larval VNC stack 1, 20 x 1024 x 1024 (4.6 x 4.6 x 45-50 nm; CC BY-NC-SA 3.0).

    Returns
    -------
    raw : numpy.ndarray
    labels : dict
        ``labels`` (9-class map), ``membranes``, ``mitochondria``, ``synapses`` stacks.
    """
    import imageio.v3 as iio
    import tifffile

    d = em_data_root(root) / "drosophila_vnc_stack1"
    raw = np.stack([tifffile.imread(f) for f in sorted((d / "raw").glob("*.tif"))])
    out = {sub: np.stack([iio.imread(f) for f in sorted((d / sub).glob("*.png"))])
           for sub in ("labels", "membranes", "mitochondria", "synapses")}
    return raw, out
