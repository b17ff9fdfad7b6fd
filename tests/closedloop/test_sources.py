"""Sources: files replayed frame by frame (TIFF, zarr, npy, HDF5), the simulated rig."""

import numpy as np
import pytest

from neuralscope.closedloop.rig import SimulatedRig
from neuralscope.closedloop.sources import ArraySource, FileSource
from neuralscope.core.errors import NeuralscopeError


@pytest.fixture(scope="module")
def movie():
    return np.random.default_rng(0).integers(0, 4000, size=(7, 20, 24)).astype(np.uint16)


def _write(kind, path, movie):
    if kind == "npy":
        np.save(path, movie)
    elif kind == "tif":
        import tifffile

        tifffile.imwrite(path, movie)
    elif kind == "tif-compressed":
        import tifffile

        tifffile.imwrite(path, movie, compression="zlib")
    elif kind == "zarr":
        import zarr

        z = zarr.open(str(path), mode="w", shape=movie.shape, dtype=movie.dtype, chunks=(1, 20, 24))
        z[:] = movie
    else:
        import h5py

        with h5py.File(path, "w") as f:
            f.create_dataset("imaging/data", data=movie)


@pytest.mark.parametrize("kind, suffix", [("npy", ".npy"), ("tif", ".tif"), ("tif-compressed", ".tif"),
                                          ("zarr", ".zarr"), ("h5", ".h5")])
def test_file_source_reads_every_frame(tmp_path, movie, kind, suffix):
    path = tmp_path / f"movie{suffix}"
    _write(kind, path, movie)
    src = FileSource(path, fs=30.0)
    assert src.n_frames == 7 and src.frame_shape == (20, 24)
    for k in range(7):
        np.testing.assert_array_equal(src.read(k), movie[k])
    assert FileSource(path, fs=30.0, n_frames=3).n_frames == 3
    with pytest.raises(NeuralscopeError):
        src.read(7)
    src.close()


def test_bad_files(tmp_path, movie):
    with pytest.raises(NeuralscopeError):
        FileSource(tmp_path / "missing.tif", fs=30.0)
    (tmp_path / "movie.avi").write_bytes(b"x")
    with pytest.raises(NeuralscopeError):
        FileSource(tmp_path / "movie.avi", fs=30.0)
    (tmp_path / "broken.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(NeuralscopeError):
        FileSource(tmp_path / "broken.tif", fs=30.0)
    np.save(tmp_path / "flat.npy", movie[0])
    with pytest.raises(NeuralscopeError):
        FileSource(tmp_path / "flat.npy", fs=30.0)
    np.save(tmp_path / "ok.npy", movie)
    with pytest.raises(NeuralscopeError):
        FileSource(tmp_path / "ok.npy", fs=0.0)
    with pytest.raises(NeuralscopeError):
        ArraySource(movie[0], fs=30.0)


def test_rig_is_seeded_and_renders_in_order():
    a = SimulatedRig(height=48, width=48, n_rois=8, n_frames=20, seed=7)
    b = SimulatedRig(height=48, width=48, n_rois=8, n_frames=20, seed=7)
    c = SimulatedRig(height=48, width=48, n_rois=8, n_frames=20, seed=8)
    fa, fb, fc = a.render(20), b.render(20), c.render(20)
    np.testing.assert_array_equal(fa, fb)
    assert not np.array_equal(fa, fc)
    with pytest.raises(NeuralscopeError):
        a.read(3)  # out of order
    cal = a.calibration_session(10)
    assert (cal.footprints != a.footprints).nnz == 0  # same cells
    assert not np.allclose(cal.true_shifts[:10], a.true_shifts[:10])  # new motion


def test_rig_stimulation_drives_the_targets():
    kw = dict(height=48, width=48, n_rois=8, n_frames=90, seed=3, base_rate_hz=0.2, state_fraction=0.0)
    quiet, driven = SimulatedRig(**kw), SimulatedRig(**kw)
    quiet.render(90)
    driven.render(10)
    driven.stimulate({"targets": [2], "rate_hz": 60.0, "duration_s": 1.0})
    for k in range(10, 90):
        driven.read(k)
    spikes_q, spikes_d = quiet.truth().spikes[10:40, 2].sum(), driven.truth().spikes[10:40, 2].sum()
    assert spikes_d >= spikes_q + 30  # ~60 spikes expected from the stimulus
    assert driven.truth().spikes[10:40, [0, 1, 3]].sum() <= quiet.truth().spikes[10:40].sum() + 10
    with pytest.raises(NeuralscopeError):
        driven.stimulate({"laser": 1})
    with pytest.raises(NeuralscopeError):
        driven.stimulate({"targets": [99]})
