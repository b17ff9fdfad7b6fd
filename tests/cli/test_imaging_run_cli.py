"""`neuralscope imaging run`: the machine-readable contract, bad input, resume."""

import json

import numpy as np
import pytest

from neuralscope.cli.main import main


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def movie_tif(tmp_path_factory):
    import tifffile

    from neuralscope.datasets.movies import simulate_movie

    sim = simulate_movie(240, (64, 64), 7, random_state=41)
    path = tmp_path_factory.mktemp("mov") / "movie.tif"
    tifffile.imwrite(path, np.clip(np.rint(sim.movie), 0, 65535).astype(np.uint16))
    return path, sim


def test_contract_json_npz_nwb_figures(movie_tif, tmp_path, capsys):
    path, sim = movie_tif
    out = tmp_path / "out"
    code, stdout, err = _run(["-q", "imaging", "run", str(path), "--fs", "30", "--out", str(out), "--json",
                              "--rigid", "--spike-method", "oasis"], capsys)
    assert code == 0, err
    res = json.loads(stdout)
    assert isinstance(res["n_rois"], int) and res["frames_per_second"] > 0
    with np.load(out / "rois.npz", allow_pickle=False) as z:
        fp, cen, dff, rates = z["footprints"], z["centroids"], z["dff"], z["spike_rates"]
    n = res["n_rois"]
    assert fp.shape == (n, 64, 64) and cen.shape == (n, 2) and dff.shape == rates.shape == (n, 240)
    assert n >= 5
    # Centroids are row/col in the input movie (median position over frames): each is near a true cell.
    true_in_movie = sim.centroids + np.median(sim.shifts, axis=0)
    d = np.linalg.norm(cen[:, None] - true_in_movie[None], axis=-1).min(1)
    assert np.median(d) < 1.0, d
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(out / "result.nwb"), "r") as io:
        nwb = io.read()
        ophys = nwb.processing["ophys"]
        assert len(ophys["ImageSegmentation"]["PlaneSegmentation"]) == n
        np.testing.assert_allclose(ophys["DfOverF"]["RoiResponseSeries"].data[:].T, dff, rtol=1e-5)
        assert "Fluorescence" in ophys.data_interfaces
    assert len(list((out / "figures").glob("*.png"))) == 2
    assert (out / "work" / "registered.zarr").exists()
    # A second run resumes every stage from the checkpoints.
    code, stdout, err = _run(["-q", "imaging", "run", str(path), "--fs", "30", "--out", str(out), "--json",
                              "--rigid", "--spike-method", "oasis"], capsys)
    assert code == 0 and json.loads(stdout)["resumed_stages"] == ["registration", "detection", "traces", "spikes"]


def test_bad_input_one_line_exit_2_nothing_written(movie_tif, tmp_path, capsys):
    import h5py

    path, _ = movie_tif
    data = path.read_bytes()
    (tmp_path / "trunc.tif").write_bytes(data[: len(data) // 3])
    (tmp_path / "junk.tif").write_bytes(b"not a tiff" * 50)
    with h5py.File(tmp_path / "flat.h5", "w") as f:
        f["mov"] = np.zeros((64, 64))
    with h5py.File(tmp_path / "empty.h5", "w") as f:
        f["mov"] = np.zeros((0, 64, 64))
    cases = [
        [str(tmp_path / "trunc.tif"), "--fs", "30"],
        [str(tmp_path / "junk.tif"), "--fs", "30"],
        [str(tmp_path / "flat.h5"), "--fs", "30"],
        [str(tmp_path / "empty.h5"), "--fs", "30"],
        [str(tmp_path / "missing.tif"), "--fs", "30"],
        [str(path), "--fs", "0"],
        [str(path), "--fs", "-5"],
        [str(path), "--fs", "30", "--spike-method", "magic"],
    ]
    for args in cases:
        out = tmp_path / "out"
        code, stdout, err = _run(["imaging", "run", *args, "--out", str(out), "--json"], capsys)
        assert code == 2, (args, err)
        assert err.count("\n") == 1 and err.startswith("neuralscope: error:"), err
        assert not out.exists(), args
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
