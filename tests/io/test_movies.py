"""Movie readers and the zarr writer: every format, lazy chunking, bad input."""

import numpy as np
import pytest

from neuralscope.core.errors import NeuralscopeError
from neuralscope.io.movies import as_movie, read_movie, write_movie_zarr


def _movie(t=23, h=16, w=20, seed=0):
    return np.random.default_rng(seed).integers(0, 4000, size=(t, h, w)).astype(np.uint16)


def test_multipage_tiff_lazy_chunks(tmp_path):
    import tifffile

    m = _movie()
    tifffile.imwrite(tmp_path / "m.tif", m)
    mov = read_movie(tmp_path / "m.tif", chunk_frames=5)
    assert mov.shape == m.shape and mov.chunks[0] == (5, 5, 5, 5, 3)
    np.testing.assert_array_equal(mov.compute(), m)
    np.testing.assert_array_equal(mov[7:12].compute(), m[7:12])


def test_bigtiff_and_folder_of_frames(tmp_path):
    import tifffile

    m = _movie(t=12)
    tifffile.imwrite(tmp_path / "big.tif", m, bigtiff=True)
    np.testing.assert_array_equal(read_movie(tmp_path / "big.tif").compute(), m)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(m):  # natural order: frame2 before frame10
        tifffile.imwrite(folder / f"frame{i}.tiff", f)
    np.testing.assert_array_equal(read_movie(folder, chunk_frames=4).compute(), m)


def test_hdf5_zarr_and_nwb(tmp_path):
    import h5py
    import zarr

    m = _movie()
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f["imaging/mov"] = m
        f["other"] = np.zeros(3)
    np.testing.assert_array_equal(read_movie(tmp_path / "m.h5").compute(), m)  # the only 3-D dataset
    np.testing.assert_array_equal(read_movie(tmp_path / "m.h5", dataset="imaging/mov").compute(), m)
    with pytest.raises(NeuralscopeError, match="--dataset"):
        read_movie(tmp_path / "m.h5", dataset="nope")
    z = zarr.create_array(str(tmp_path / "m.zarr"), shape=m.shape, chunks=(4, 16, 20), dtype=m.dtype)
    z[:] = m
    np.testing.assert_array_equal(read_movie(tmp_path / "m.zarr").compute(), m)
    _write_nwb(tmp_path / "m.nwb", m)
    np.testing.assert_array_equal(read_movie(tmp_path / "m.nwb", chunk_frames=7).compute(), m)


def _write_nwb(path, m):
    from datetime import datetime, timezone

    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.ophys import OpticalChannel, TwoPhotonSeries

    nwb = NWBFile(session_description="t", identifier="x", session_start_time=datetime(2020, 1, 1, tzinfo=timezone.utc))
    dev = nwb.create_device(name="scope")
    plane = nwb.create_imaging_plane(name="plane", optical_channel=OpticalChannel(name="ch", description="g",
                                     emission_lambda=520.0), description="p", device=dev, excitation_lambda=920.0,
                                     imaging_rate=30.0, indicator="GCaMP6f", location="V1")
    nwb.add_acquisition(TwoPhotonSeries(name="TwoPhotonSeries", data=m, imaging_plane=plane, rate=30.0, unit="a.u."))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


def test_bad_input_one_clear_error(tmp_path):
    import h5py
    import tifffile

    m = _movie(t=10)
    tifffile.imwrite(tmp_path / "ok.tif", m)
    data = (tmp_path / "ok.tif").read_bytes()
    (tmp_path / "trunc.tif").write_bytes(data[: len(data) // 2])
    with pytest.raises(NeuralscopeError, match="truncated|readable"):
        read_movie(tmp_path / "trunc.tif")
    (tmp_path / "junk.tif").write_bytes(b"this is not a tiff at all" * 10)
    with pytest.raises(NeuralscopeError, match="readable TIFF"):
        read_movie(tmp_path / "junk.tif")
    tifffile.imwrite(tmp_path / "one.tif", m[0])  # a single 2-D image is one frame, and too small is an error
    assert read_movie(tmp_path / "one.tif").shape == (1, 16, 20)
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f["two_d"] = np.zeros((5, 5))
        f["empty"] = np.zeros((0, 16, 16))
    with pytest.raises(NeuralscopeError, match="3-D movie"):
        read_movie(tmp_path / "bad.h5", dataset="two_d")
    with pytest.raises(NeuralscopeError, match="at least one frame"):
        read_movie(tmp_path / "bad.h5", dataset="empty")
    with pytest.raises(NeuralscopeError, match="existing"):
        read_movie(tmp_path / "missing.tif")
    with pytest.raises(NeuralscopeError, match="MOVIE"):
        read_movie(tmp_path / "bad.h5.txt") if (tmp_path / "bad.h5.txt").write_text("x") else None
    with pytest.raises(NeuralscopeError, match="3-D"):
        as_movie(np.zeros((4, 4)))


def test_write_zarr_streams_and_round_trips(tmp_path):
    m = _movie().astype(np.float32)
    mov = as_movie(m, chunk_frames=6)
    path = write_movie_zarr(mov, tmp_path / "reg.zarr")
    back = read_movie(path)
    np.testing.assert_array_equal(back.compute(), m)
    import zarr

    assert zarr.open_array(str(path), mode="r").chunks[0] == 6
    with pytest.raises(NeuralscopeError, match="does not exist"):
        write_movie_zarr(mov, path)


def test_real_sima_example(shared_data):
    path = shared_data / "calcium" / "sima_example" / "example.tif"
    mov = read_movie(path, chunk_frames=8)
    assert mov.shape[0] == 20 and mov.ndim == 3
    frames = mov.compute()
    assert frames.dtype == np.uint16 and frames.std() > 0
