"""segment_volume's exact path: the default for the U-Net, available for the classical model."""

import numpy as np
import pytest

from neuralscope.connectomics.pipeline import exact_settings, segment_volume, unet_available
from neuralscope.core.errors import NeuralscopeError
from neuralscope.datasets.em import simulate_em_volume


@pytest.fixture(scope="module")
def vol():
    return simulate_em_volume((20, 48, 48), random_state=2)


def test_classical_exact_blockwise_equals_single_block(tmp_path, vol):
    one, info = segment_volume(vol.raw, tmp_path / "1.zarr", model="classical", exact=True,
                               block_shape=vol.raw.shape)
    many, info_many = segment_volume(vol.raw, tmp_path / "2.zarr", model="classical", exact=True,
                                     block_shape=(9, 17, 16), threshold=info["threshold"])
    assert info["exact"] and info["method"] == "mean" and many.n_blocks == 3 * 3 * 3
    np.testing.assert_array_equal(many.load(), one.load())
    assert info_many["n_fragments"] == info["n_fragments"] > one.n_segments


def test_stitched_path_on_request_and_mutex_is_not_exact(tmp_path, vol):
    _, info = segment_volume(vol.raw, tmp_path / "s.zarr", model="classical", exact=False)
    assert "exact" not in info and "halo" in info
    _, info = segment_volume(vol.raw, tmp_path / "d.zarr", model="classical")
    assert info["exact"] is True and info["threshold"] == exact_settings("classical")["threshold"]
    with pytest.raises(NeuralscopeError, match="exact"):
        segment_volume(vol.raw, tmp_path / "m.zarr", model="classical", method="mutex", exact=True)


def test_unet_default_is_exact(tmp_path, vol):
    if not unet_available():
        pytest.skip("the U-Net weights are not installed")
    one, info = segment_volume(vol.raw, tmp_path / "u1.zarr", model="unet", block_shape=vol.raw.shape)
    many, _ = segment_volume(vol.raw, tmp_path / "u2.zarr", model="unet", block_shape=(11, 25, 30), n_workers=2)
    assert info["exact"] is True and info["n_blocks"] == 1 and info["n_fragments"] >= one.n_segments
    np.testing.assert_array_equal(many.load(), one.load())


def test_exact_settings_from_the_weights_win():
    meta = {"agglomeration": {"method": "learned", "exact": {"threshold": 0.42}}}
    assert exact_settings("unet", meta)["threshold"] == 0.42
    assert exact_settings("unet", {})["threshold"] == 0.7
