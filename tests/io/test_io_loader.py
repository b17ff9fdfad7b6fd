"""load(): dispatch by extension, and NWB spikes binned with behaviour as covariates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.io

from neuralscope.core import ContinuousActivity, NeuralscopeError, SpikeTrains, TrialActivity
from neuralscope.io import NWBContents, load, nwb_to_activity, write_nwb


def test_dispatch_by_extension(tmp_path):
    X3 = np.ones((4, 2, 3))
    np.savez(tmp_path / "a.npz", X=X3, y=np.array([0, 1, 0, 1]))
    scipy.io.savemat(tmp_path / "b.mat", {"X": np.ones((6, 2))})
    (tmp_path / "c.csv").write_text("n1,n2,y\n1,2,0.5\n3,4,0.25\n")
    assert isinstance(load(tmp_path / "a.npz"), TrialActivity)
    assert isinstance(load(str(tmp_path / "b.mat")), ContinuousActivity)
    csv = load(tmp_path / "c.csv", fs=5.0)
    assert csv.fs == 5.0
    np.testing.assert_array_equal(csv.covariates["y"], [0.5, 0.25])


def test_unknown_extension_missing_file_and_directory(tmp_path):
    (tmp_path / "data.txt").write_text("1,2\n")
    with pytest.raises(NeuralscopeError, match=r"data.txt: expected a file ending in .npz or .mat or .csv or .nwb"):
        load(tmp_path / "data.txt")
    with pytest.raises(NeuralscopeError, match="does not exist"):
        load(tmp_path / "missing.npz")
    folder = tmp_path / "folder.npz"
    folder.mkdir()
    with pytest.raises(NeuralscopeError, match="directory"):
        load(folder)


def test_nwb_spikes_are_binned_and_behaviour_interpolated_at_bin_centres():
    # Unit 0 fires once in each 0.1 s bin, unit 1 every other bin: known counts.
    spikes = SpikeTrains([np.arange(0.05, 2.0, 0.1), np.arange(0.05, 2.0, 0.2)], t_start=0.0, t_stop=2.0)
    t = np.linspace(0.0, 2.0, 41)  # behaviour on its own, finer clock
    behaviour = {"x": (t, 3.0 * t + 1.0), "xy": (t, np.c_[t, -t]), "label": (t, np.array(["a"] * 41))}
    act = nwb_to_activity(NWBContents(spikes=spikes, behaviour=behaviour), bin_size=0.1)
    assert act.n_time == 20 and act.fs == pytest.approx(10.0)
    np.testing.assert_array_equal(act.data[:, 0], np.ones(20))
    np.testing.assert_array_equal(act.data[:, 1], np.tile([1.0, 0.0], 10))
    centres = np.arange(20) * 0.1 + 0.05
    np.testing.assert_allclose(act.covariates["x"], 3.0 * centres + 1.0, atol=1e-12)
    np.testing.assert_allclose(act.covariates["xy"], np.c_[centres, -centres], atol=1e-12)
    assert "label" not in act.covariates  # text cannot be a covariate


def test_nwb_behaviour_with_gaps_uses_finite_samples():
    spikes = SpikeTrains([np.array([0.5, 1.5])], t_start=0.0, t_stop=2.0)
    t = np.linspace(0.0, 2.0, 5)
    values = 2.0 * t
    values[2] = np.nan
    act = nwb_to_activity(NWBContents(spikes=spikes, behaviour={"v": (t, values)}), bin_size=0.5)
    np.testing.assert_allclose(act.covariates["v"], 2.0 * (np.arange(4) * 0.5 + 0.25))


def test_nwb_without_spikes_or_activity_is_an_error():
    with pytest.raises(NeuralscopeError, match="Units table"):
        nwb_to_activity(NWBContents(trials=pd.DataFrame({"start_time": [0.0]})))


def test_load_nwb_files(tmp_path):
    pytest.importorskip("pynwb")
    spikes = SpikeTrains([np.array([0.05, 0.25, 0.26]), np.array([0.15, 0.55])], t_start=0.0, t_stop=1.0)
    trials = pd.DataFrame({"start_time": [0.0, 0.5], "stop_time": [0.4, 0.9], "side": ["l", "r"]})
    path = write_nwb(tmp_path / "spk.nwb", spikes=spikes, trials=trials)
    act = load(path, bin_size=0.1)
    assert act.data.shape == (10, 2)
    np.testing.assert_array_equal(act.data.sum(axis=0), [3, 2])
    np.testing.assert_array_equal(act.data[2], [2, 0])  # 0.25 and 0.26 share a bin

    stored = ContinuousActivity(np.arange(20.0).reshape(10, 2), fs=4.0, t0=1.0, covariates={"y": np.arange(10.0)})
    act = load(write_nwb(tmp_path / "act.nwb", activity=stored), bin_size=0.1)
    np.testing.assert_array_equal(act.data, stored.data)  # the stored matrix wins over re-binning
    assert act.fs == 4.0 and act.t0 == 1.0
    np.testing.assert_array_equal(act.covariates["y"], np.arange(10.0))
