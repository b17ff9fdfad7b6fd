"""Readers of the shared real data sets (skipped when ../shared/data is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from neuralscope.core import ContinuousActivity, NeuralscopeError, TrialActivity
from neuralscope.io import load_bci_golub2018, load_m1_reaching, load_mtl_nwb, shared_data_dir
from neuralscope.io.realdata import BCI_GOLUB2018_FILE, M1_REACHING_FILE, MTL_NWB_FILE


def _file(root, name):
    path = root / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


def test_shared_data_dir_points_beside_the_repository(shared_data):
    assert shared_data_dir().resolve() == shared_data.resolve()


def test_m1_reaching(shared_data):
    act = load_m1_reaching(_file(shared_data, M1_REACHING_FILE))
    assert isinstance(act, ContinuousActivity)
    assert act.data.shape == (15536, 171)
    assert act.fs == pytest.approx(20.0) and act.t0 == pytest.approx(12.591)
    assert act.data.sum() == 2352815 and act.data.min() == 0  # uint8 counts, unchanged
    pos, vel = act.covariates["position"], act.covariates["velocity"]
    assert pos.shape == vel.shape == (15536, 2)
    assert np.all(np.isfinite(vel)) and np.abs(pos).max() < 0.5  # metres
    # velocity is the time derivative of position (checked against the file)
    for k in range(2):
        assert np.corrcoef(np.gradient(pos[:, k], 0.05), vel[:, k])[0, 1] > 0.99


def test_bci_golub2018(shared_data):
    import scipy.io

    path = _file(shared_data, BCI_GOLUB2018_FILE)
    data = load_bci_golub2018(path)
    act = data.activity
    assert isinstance(act, TrialActivity) and act.data.shape == (1104, 86, 1)
    assert act.fs == pytest.approx(1 / 0.045)
    assert act.trials["phase"].value_counts().to_dict() == {"before": 552, "after": 552}
    assert sorted(act.trials["angle"].unique()) == [0, 45, 90, 135, 180, 225, 270, 315]
    assert data.factors.shape == (1104, 10)
    assert data.intuitive_mapping["L"].shape == (86, 10) and data.perturbed_mapping["beta"].shape == (10, 86)
    assert data.info["monkey"] == "Jeffy"
    # the mapping's velocity from our counts matches the velocity stored in the file
    raw = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)
    stored = raw["afterLearning"].clouds.vraw_perturbed[3].T  # angle bin 135 deg, after learning
    rows = ((act.trials["phase"] == "after") & (act.trials["angle"] == 135)).to_numpy()
    np.testing.assert_allclose(data.perturbed_velocity[rows], stored, atol=1e-6)


def test_mtl_nwb(shared_data):
    contents = load_mtl_nwb(_file(shared_data, MTL_NWB_FILE))
    spikes = contents.spikes
    assert spikes.n_units == 35 and spikes.n_spikes == 214278
    assert 2820 < spikes.t_stop < 2822
    assert spikes.units["location"].value_counts().to_dict() == {"hippocampus_right": 25, "amygdala_right": 10}
    tables = contents.tables
    assert {name: len(df) for name, df in tables.items()} == {
        "encoding_table": 90, "recognition_table": 180, "timediscrimination_table": 180}
    assert sorted(tables["encoding_table"]["stimCategory"].unique()) == [0, 1, 2]
    assert tables["recognition_table"]["old_new"].value_counts().to_dict() == {2: 94, 1: 82, 0: 4}
    assert isinstance(tables["encoding_table"]["Clip_name"].iloc[0], str)  # bytes decoded
    assert contents.metadata["species"] == "Homo sapiens"
    # epoching on a real table works end to end
    trials = spikes.bin(0.1).epoch(tables["encoding_table"], window=(0.0, 1.0), labels=["stimCategory"])
    assert trials.data.shape == (90, 35, 10)


def test_readers_reject_a_wrong_file(tmp_path):
    import scipy.io

    scipy.io.savemat(tmp_path / "other.mat", {"X": np.ones((2, 2))})
    with pytest.raises(NeuralscopeError, match="other.mat: expected variables"):
        load_m1_reaching(tmp_path / "other.mat")
    with pytest.raises(NeuralscopeError, match="does not exist"):
        load_mtl_nwb(tmp_path / "absent.nwb")
