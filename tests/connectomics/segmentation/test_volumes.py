"""Lazy volume readers (zarr, HDF5, TIFF, slice folders, .npy), zarr writing, unreadable chunks."""

import pickle

import numpy as np
import pytest

from neuralscope.connectomics.volumes import (
    FIB25_TEST_Z,
    VolumeReadError,
    load_fib25,
    open_volume,
    write_zarr,
)
from neuralscope.core.errors import NeuralscopeError


@pytest.fixture
def volume():
    return np.random.default_rng(0).integers(0, 255, size=(6, 20, 24), dtype=np.uint8)


def test_round_trips_every_format(tmp_path, volume):
    import h5py
    import imageio.v3 as iio
    import tifffile

    write_zarr(volume, tmp_path / "v.zarr", chunks=(3, 10, 10))
    np.save(tmp_path / "v.npy", volume)
    with h5py.File(tmp_path / "v.h5", "w") as h:
        h.create_dataset("other", data=np.zeros(3))
        h.create_dataset("raw", data=volume, chunks=(2, 10, 12))
    tifffile.imwrite(tmp_path / "v.tif", volume)
    (tmp_path / "slices").mkdir()
    for i, plane in enumerate(volume):
        iio.imwrite(tmp_path / "slices" / f"s{i:03d}.png", plane)
    for name in ("v.zarr", "v.npy", "v.h5", "v.tif", "slices"):
        arr = open_volume(tmp_path / name)
        assert arr.shape == volume.shape and arr.dtype == volume.dtype, name
        np.testing.assert_array_equal(arr.compute(), volume, err_msg=name)
    assert open_volume(tmp_path / "v.zarr").chunksize == (3, 10, 10)  # storage chunks by default
    assert open_volume(tmp_path / "v.h5", chunks=(6, 20, 24)).numblocks == (1, 1, 1)


def test_reading_is_lazy(tmp_path, volume):
    np.save(tmp_path / "v.npy", volume)
    arr = open_volume(tmp_path / "v.npy", chunks=(2, 20, 24))
    (tmp_path / "v.npy").unlink()  # memory-mapped: still readable on Linux, nothing copied up front
    assert arr.numblocks == (3, 1, 1)


def test_unreadable_chunk_raises_volume_read_error(tmp_path, volume):
    path = write_zarr(volume, tmp_path / "v.zarr", chunks=(3, 10, 12))
    chunk_files = [p for p in path.rglob("*") if p.is_file() and p.name not in ("zarr.json", ".zarray", ".zattrs")]
    chunk_files[0].write_bytes(b"garbage, not a compressed chunk")
    arr = open_volume(path)
    with pytest.raises(VolumeReadError, match="readable chunks"):
        arr.compute()
    err = VolumeReadError("raw", "readable chunks", "region [0:3]")
    clone = pickle.loads(pickle.dumps(err))  # crosses a distributed cluster intact
    assert isinstance(clone, NeuralscopeError) and str(clone) == str(err)


def test_bad_paths(tmp_path):
    with pytest.raises(NeuralscopeError, match="existing"):
        open_volume(tmp_path / "missing.zarr")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NeuralscopeError, match="slices"):
        open_volume(tmp_path / "empty")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(NeuralscopeError):
        open_volume(tmp_path / "x.txt")
    np.save(tmp_path / "flat.npy", np.zeros((4, 4)))
    with pytest.raises(NeuralscopeError, match="3-D"):
        open_volume(tmp_path / "flat.npy")
    (tmp_path / "broken.h5").write_bytes(b"not hdf5")
    with pytest.raises(NeuralscopeError, match="HDF5"):
        open_volume(tmp_path / "broken.h5")


def test_fib25_loader_and_published_scores(shared_data):
    """One load of the real cube: shapes, ids, and our metrics reproduce the published whole-cube scores."""
    from neuralscope.connectomics.metrics import evaluate_segmentation

    data = load_fib25(shared_data / "em")
    assert data["raw"].shape == data["truth"].shape == data["watershed"].shape == data["ffn"].shape == (250,) * 3
    assert data["raw"].dtype == np.uint8 and data["truth"].dtype == np.uint64
    assert len(np.unique(data["truth"])) in range(500, 560)  # 526 bodies (+ a few unlabelled voxels)
    assert 0 < FIB25_TEST_Z < 250
    # FFN reuses uint8 ids; connected components give far more objects than 255.
    assert data["ffn"].max() > 1000 and (data["ffn"] == 0).sum() == (data["ffn_raw_ids"] == 0).sum()
    ws = evaluate_segmentation(data["watershed"], data["truth"])
    assert (round(ws.vi_split, 2), round(ws.vi_merge, 2), round(ws.adapted_rand_error, 3)) == (2.38, 0.33, 0.266)
    ffn = evaluate_segmentation(data["ffn_raw_ids"], data["truth"])
    assert (round(ffn.vi_split, 2), round(ffn.vi_merge, 2), round(ffn.adapted_rand_error, 3)) == (0.90, 0.92, 0.157)
