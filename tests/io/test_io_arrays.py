"""Array files (.npz, .mat v5 / v7.3, .csv): key conventions, round trips, and bad inputs."""

from __future__ import annotations

import zipfile

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.io

from neuralscope.core import ContinuousActivity, NeuralscopeError, TrialActivity
from neuralscope.io import read_csv, read_mat, read_npz, write_npz


@pytest.fixture
def trial_arrays():
    rng = np.random.default_rng(3)
    X = rng.poisson(3.0, size=(12, 5, 4)).astype(float)
    y = np.array(["left", "right", "up"] * 4)
    return X, y


@pytest.fixture
def valid_npz(tmp_path, trial_arrays):
    X, y = trial_arrays
    path = tmp_path / "valid.npz"
    np.savez(path, X=X, y=y, fs=np.array(100.0))
    return path


# ----------------------------------------------------------------------------- .npz


def test_npz_trial_data_reads_labels_and_rate(valid_npz, trial_arrays):
    X, y = trial_arrays
    act = read_npz(valid_npz)
    assert isinstance(act, TrialActivity)
    np.testing.assert_array_equal(act.data, X)
    assert act.labels("y").tolist() == y.tolist()
    assert act.fs == 100.0 and act.t0 == 0.0


def test_npz_continuous_with_2d_target_and_default_rate(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = rng.normal(size=(50, 2))
    np.savez(tmp_path / "c.npz", X=X, y=y, speed=np.abs(y[:, 0]), unit_ids=np.array([10, 20, 30]),
             note=np.arange(4))
    act = read_npz(tmp_path / "c.npz")
    assert isinstance(act, ContinuousActivity)
    assert act.fs == 1.0  # documented default: time counted in bins
    np.testing.assert_array_equal(act.covariate("y"), y)
    np.testing.assert_array_equal(act.covariates["speed"], np.abs(y[:, 0]))
    assert "note" not in act.covariates  # length 4 matches nothing: ignored
    assert act.unit_ids.tolist() == [10, 20, 30]


@pytest.mark.parametrize("compress", [True, False])
def test_write_npz_round_trips_trial_and_continuous(tmp_path, trial_arrays, compress):
    X, y = trial_arrays
    trials = TrialActivity.from_labels(X, {"stimulus": y, "contrast": np.linspace(0, 1, 12)}, fs=50.0, t0=-0.1)
    path = write_npz(tmp_path / "trials.npz", trials, compress=compress)
    back = read_npz(path)
    np.testing.assert_array_equal(back.data, X)
    assert back.fs == 50.0 and back.t0 == -0.1
    assert back.labels("stimulus").tolist() == y.tolist()
    np.testing.assert_array_equal(back.labels("contrast"), np.linspace(0, 1, 12))

    cont = ContinuousActivity(X[:, :, 0], fs=20.0, unit_ids=np.array(["a", "b", "c", "d", "e"]),
                              covariates={"y": np.arange(12.0), "velocity": np.ones((12, 2))})
    back = read_npz(write_npz(tmp_path / "cont.npz", cont, compress=compress))
    np.testing.assert_array_equal(back.data, cont.data)
    assert back.unit_ids.tolist() == ["a", "b", "c", "d", "e"]
    np.testing.assert_array_equal(back.covariates["velocity"], np.ones((12, 2)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cont.npz", "trials.npz"]  # no temp files left


def test_write_npz_rejects_reserved_names_and_other_objects(tmp_path):
    act = ContinuousActivity(np.zeros((4, 2)), fs=1.0, covariates={"fs": np.zeros(4)})
    with pytest.raises(NeuralscopeError, match="fs"):
        write_npz(tmp_path / "x.npz", act)
    with pytest.raises(NeuralscopeError, match="ContinuousActivity or TrialActivity"):
        write_npz(tmp_path / "x.npz", np.zeros((4, 2)))
    assert not any(tmp_path.iterdir())


def _bad_npz(tmp_path, valid_npz, kind):
    path = tmp_path / f"{kind}.npz"
    X = np.ones((6, 3, 2))
    if kind == "truncated":
        raw = valid_npz.read_bytes()
        path.write_bytes(raw[: len(raw) // 2])
    elif kind == "truncated_member":
        # Central directory intact, member data cut short: fails on member read, not on open.
        big = tmp_path / "big.npz"
        np.savez_compressed(big, X=np.random.default_rng(0).normal(size=(40, 30, 20)))
        with zipfile.ZipFile(big) as zin, zipfile.ZipFile(path, "w") as zout:
            info = zin.infolist()[0]
            zout.writestr(info, zin.read(info.filename)[:100], compress_type=zipfile.ZIP_STORED)
    elif kind == "garbage":
        path.write_bytes(b"\x00\x01 definitely not an archive" * 10)
    elif kind == "npy":
        with open(path, "wb") as handle:
            np.save(handle, X)
    elif kind == "missing_X":
        np.savez(path, data=X)
    elif kind == "nan":
        X[0, 0, 0] = np.nan
        np.savez(path, X=X)
    elif kind == "y_length":
        np.savez(path, X=X, y=np.arange(5))
    elif kind == "y_2d_trials":
        np.savez(path, X=X, y=np.ones((6, 2)))
    elif kind == "ndim1":
        np.savez(path, X=np.ones(5))
    elif kind == "ndim4":
        np.savez(path, X=np.ones((2, 2, 2, 2)))
    elif kind == "object":
        np.savez(path, X=np.array([np.ones(2), np.ones(3)], dtype=object))
    elif kind == "bad_fs":
        np.savez(path, X=X, fs=np.array(-5.0))
    elif kind == "text_X":
        np.savez(path, X=np.array([["a", "b"], ["c", "d"]]))
    elif kind == "unit_ids":
        np.savez(path, X=X, unit_ids=np.array([1, 1, 2]))
    return path


@pytest.mark.parametrize(
    "kind, match",
    [
        ("truncated", "truncated.npz: expected an .npz archive.*not a zip"),
        ("truncated_member", "truncated_member.npz: expected a readable .npz"),
        ("garbage", "garbage.npz: expected an .npz archive.*not a zip"),
        ("npy", "npy.npz: expected an .npz archive"),
        ("missing_X", r"missing_X.npz\[X\]: expected an array named 'X'"),
        ("nan", r"nan.npz\[X\]: expected finite values"),
        ("y_length", r"y_length.npz\[y\]: expected 6 labels"),
        ("y_2d_trials", r"y_2d_trials.npz\[y\]: expected one label per trial"),
        ("ndim1", r"ndim1.npz\[X\]: expected a 2-D or 3-D array"),
        ("ndim4", r"ndim4.npz\[X\]: expected a 2-D or 3-D array"),
        ("object", "object.npz: expected a readable .npz"),
        ("bad_fs", r"bad_fs.npz\[fs\]: expected a positive"),
        ("text_X", r"text_X.npz\[X\]: expected a numeric array"),
        ("unit_ids", r"unit_ids.npz\[unit_ids\]: expected unique ids"),
    ],
)
def test_bad_npz_raises_one_line_neuralscope_error(tmp_path, valid_npz, kind, match):
    path = _bad_npz(tmp_path, valid_npz, kind)
    with pytest.raises(NeuralscopeError, match=match) as info:
        read_npz(path)
    assert "\n" not in str(info.value)


def test_missing_path_and_directory(tmp_path):
    with pytest.raises(NeuralscopeError, match="does not exist"):
        read_npz(tmp_path / "nope.npz")
    with pytest.raises(NeuralscopeError, match="directory"):
        read_npz(tmp_path)
    with pytest.raises(NeuralscopeError, match="directory"):
        read_mat(tmp_path)


# ----------------------------------------------------------------------------- .mat


def test_mat_v5_trials_with_cellstr_labels(tmp_path, trial_arrays):
    X, y = trial_arrays
    labels = np.empty((12, 1), dtype=object)
    labels[:, 0] = list(y)
    scipy.io.savemat(tmp_path / "t.mat", {"X": X, "y": labels, "fs": 40.0, "trial_id": np.arange(12)[None, :]})
    act = read_mat(tmp_path / "t.mat")
    assert isinstance(act, TrialActivity)
    np.testing.assert_array_equal(act.data, X)
    assert act.labels("y").tolist() == y.tolist() and act.fs == 40.0
    assert act.labels("trial_id").tolist() == list(range(12))


def test_mat_v5_continuous_with_row_vector_target(tmp_path):
    X = np.arange(30.0).reshape(10, 3)
    scipy.io.savemat(tmp_path / "c.mat", {"X": X, "y": np.arange(10.0)[None, :]})  # MATLAB row vector
    act = read_mat(tmp_path / "c.mat")
    assert isinstance(act, ContinuousActivity)
    np.testing.assert_array_equal(act.covariates["y"], np.arange(10.0))


def _write_v73(path, arrays):
    """A MATLAB v7.3 file as MATLAB writes it: HDF5 with a 512-byte header and reversed axes."""
    with h5py.File(path, "w", userblock_size=512) as handle:
        for key, value in arrays.items():
            handle[key] = np.asarray(value).T
            handle[key].attrs["MATLAB_class"] = np.bytes_("double")
    with open(path, "r+b") as handle:
        handle.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .")


def test_mat_v73_axis_order_and_keys(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(8, 4, 6))
    y = np.tile([1.0, 2.0], 4)[:, None]
    _write_v73(tmp_path / "v73.mat", {"X": X, "y": y, "fs": np.array([[250.0]])})
    act = read_mat(tmp_path / "v73.mat")
    assert isinstance(act, TrialActivity) and act.data.shape == (8, 4, 6)
    np.testing.assert_array_equal(act.data, X)
    np.testing.assert_array_equal(act.labels("y"), y[:, 0])
    assert act.fs == 250.0


def test_bad_mat_files(tmp_path):
    (tmp_path / "junk.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 20)
    with pytest.raises(NeuralscopeError, match="junk.mat: expected a readable MATLAB"):
        read_mat(tmp_path / "junk.mat")
    scipy.io.savemat(tmp_path / "nox.mat", {"spikes": np.ones((3, 3))})
    with pytest.raises(NeuralscopeError, match=r"nox.mat\[X\].*spikes"):
        read_mat(tmp_path / "nox.mat")


# ----------------------------------------------------------------------------- .csv


def test_csv_with_header_indexed_targets_and_named_covariates(tmp_path):
    table = pd.DataFrame({"n1": [1, 2, 3, 4], "n2": [0, 0, 1, 1], "y_1": [9.0, 8, 7, 6], "y_0": [1.0, 2, 3, 4],
                          "speed": [0.5, 0.6, 0.7, 0.8]})
    table.to_csv(tmp_path / "a.csv", index=False)
    act = read_csv(tmp_path / "a.csv", fs=10.0, covariates=["speed"])
    assert act.unit_ids.tolist() == ["n1", "n2"] and act.fs == 10.0
    np.testing.assert_array_equal(act.covariates["y"], [[1, 9], [2, 8], [3, 7], [4, 6]])  # y_0 then y_1
    np.testing.assert_array_equal(act.covariates["speed"], [0.5, 0.6, 0.7, 0.8])


def test_csv_without_header_is_all_neurons(tmp_path):
    (tmp_path / "b.csv").write_text("1,2,3\n4,5,6\n")
    act = read_csv(tmp_path / "b.csv")
    np.testing.assert_array_equal(act.data, [[1, 2, 3], [4, 5, 6]])
    assert act.unit_ids.tolist() == ["0", "1", "2"] and act.covariates == {}


@pytest.mark.parametrize(
    "text, kwargs, match",
    [
        ("", {}, "empty file"),
        ("a,b\n", {}, "header only"),
        ("a,b\n1,x\n2,3\n", {}, r"\[neurons\]: expected numeric values"),
        ("a,y\n1,\n2,3\n", {}, r"\[y\]: expected finite values"),
        ("a,y,y_0\n1,2,3\n", {}, "either a 'y' column"),
        ("y\n1\n2\n", {}, "at least one neuron column"),
        ("a,b\n1,2\n", {"covariates": ["c"]}, "covariates: expected columns"),
        ("a,b\n1,2\n", {"fs": 0}, "fs: expected a positive"),
    ],
)
def test_bad_csv(tmp_path, text, kwargs, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(NeuralscopeError, match=match):
        read_csv(path, **kwargs)


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_any_truncation_or_corruption_of_compressed_npz_is_a_neuralscope_error(tmp_path, fraction):
    rng = np.random.default_rng(5)
    good = tmp_path / "good.npz"
    np.savez_compressed(good, X=rng.normal(size=(20, 8, 10)), y=np.arange(20) % 2)
    raw = good.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(raw[: int(len(raw) * fraction)])
    with pytest.raises(NeuralscopeError, match="cut.npz"):
        read_npz(cut)
    # Same length, a run of flipped bytes inside the compressed data: the CRC or inflate fails.
    flipped = bytearray(raw)
    start = max(100, int(len(raw) * fraction * 0.8))
    start = min(start, len(raw) - 200)
    flipped[start:start + 16] = bytes(b ^ 0xFF for b in flipped[start:start + 16])
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(NeuralscopeError, match="flipped.npz"):
        read_npz(bad)
