"""The EM volume simulator: determinism, chunk-invariance, ground truth, synapses, anisotropy."""

import numpy as np
import pytest

from neuralscope.core.errors import NeuralscopeError
from neuralscope.datasets.em import simulate_em_volume


def test_same_seed_same_volume_and_different_seed_differs():
    a = simulate_em_volume((10, 40, 40), random_state=3)
    b = simulate_em_volume((10, 40, 40), random_state=3)
    c = simulate_em_volume((10, 40, 40), random_state=4)
    np.testing.assert_array_equal(a.raw, b.raw)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.synapses.equals(b.synapses)
    assert not np.array_equal(a.raw, c.raw)


def test_dense_truth_with_dark_membranes():
    vol = simulate_em_volume((16, 64, 64), random_state=0)
    assert vol.labels.dtype == np.uint64 and vol.labels.min() == 1
    assert len(np.unique(vol.labels)) >= 10
    assert vol.raw[vol.membranes].mean() < vol.raw[~vol.membranes].mean() - 30
    # Membranes lie on label boundaries: a voxel whose 6 neighbours share its label is rarely membrane.
    lab = vol.labels
    boundary = np.zeros(lab.shape, bool)
    for d in range(3):
        diff = np.diff(lab, axis=d) != 0
        sl_a = [slice(None)] * 3
        sl_b = [slice(None)] * 3
        sl_a[d], sl_b[d] = slice(None, -1), slice(1, None)
        boundary[tuple(sl_a)] |= diff
        boundary[tuple(sl_b)] |= diff
    assert vol.membranes[boundary].mean() > 0.95


def test_lazy_chunks_equal_in_memory():
    vol = simulate_em_volume((12, 40, 48), random_state=1)
    lazy = simulate_em_volume((12, 40, 48), chunks=(5, 16, 20), random_state=1)
    np.testing.assert_array_equal(lazy.raw.compute(), vol.raw)
    np.testing.assert_array_equal(lazy.membranes.compute(), vol.membranes)
    assert lazy.raw.chunksize == (5, 16, 20)


def test_synapses_sit_between_their_partners():
    vol = simulate_em_volume((24, 80, 80), n_synapses=20, random_state=2)
    assert len(vol.synapses) >= 10
    for side in ("pre", "post"):
        idx = np.round(vol.synapses[[f"{side}_z", f"{side}_y", f"{side}_x"]].to_numpy()).astype(int)
        found = vol.labels[idx[:, 0], idx[:, 1], idx[:, 2]]
        assert (found == vol.synapses[f"{side}_id"].to_numpy()).mean() >= 0.9
    assert (vol.synapses["pre_id"] != vol.synapses["post_id"]).all()
    centre = np.round(vol.synapses[["z", "y", "x"]].to_numpy()).astype(int)
    assert vol.raw[centre[:, 0], centre[:, 1], centre[:, 2]].mean() < vol.raw.mean() - 40  # dark densities


def test_anisotropy_and_bad_input():
    vol = simulate_em_volume((8, 48, 48), anisotropy=5.0, random_state=0)
    assert vol.voxel_size == (5.0, 1.0, 1.0) and vol.raw.shape == (8, 48, 48)
    # Thick sections: labels change more often from slice to slice than along x.
    changes_z = (np.diff(vol.labels, axis=0) != 0).mean()
    changes_x = (np.diff(vol.labels, axis=2) != 0).mean()
    assert changes_z > 2 * changes_x
    with pytest.raises(NeuralscopeError):
        simulate_em_volume((0, 10, 10))
    with pytest.raises(NeuralscopeError):
        simulate_em_volume(anisotropy=0)
