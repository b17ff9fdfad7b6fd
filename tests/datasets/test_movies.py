"""The movie simulator: ground truth, seeds, presets, motion convention, zarr streaming."""

import numpy as np
import pytest

from neuralscope.core.errors import NeuralscopeError
from neuralscope.datasets.movies import simulate_movie, simulate_movie_to_zarr


def test_shapes_seed_and_ground_truth():
    a = simulate_movie(120, (48, 56), 6, random_state=3)
    b = simulate_movie(120, (48, 56), 6, random_state=3)
    c = simulate_movie(120, (48, 56), 6, random_state=4)
    assert a.movie.shape == (120, 48, 56) and a.movie.dtype == np.float32
    assert a.footprints.shape == (6, 48, 56) and a.masks.shape == (6, 48, 56)
    assert a.spikes.shape == a.calcium.shape == (6, 120) and a.shifts.shape == (120, 2)
    np.testing.assert_array_equal(a.movie, b.movie)
    assert not np.allclose(a.movie, c.movie)
    # Cells glow where they are: the mean image is brighter inside the masks than outside.
    mean = a.movie.mean(0)
    inside = mean[a.masks.any(0)].mean()
    assert inside > 1.2 * mean[~a.masks.any(0)].mean()
    # Calcium follows spikes: the transient after a spike frame is positive.
    i = int(np.argmax(a.spikes.sum(1)))
    t = np.nonzero(a.spikes[i])[0]
    assert a.calcium[i, np.minimum(t + 1, 119)].mean() > a.calcium[i].mean()


def test_hard_preset_has_overlaps_and_nonrigid_motion():
    easy = simulate_movie(60, (64, 64), 12, preset="easy", random_state=0)
    hard = simulate_movie(60, (64, 64), 12, preset="hard", random_state=0)
    overlap_easy = (easy.masks.sum(0) > 1).sum()
    overlap_hard = (hard.masks.sum(0) > 1).sum()
    assert overlap_easy == 0 and overlap_hard > 0
    assert easy.field_grid.shape[2:] == (1, 1) and hard.field_grid.shape[2:] == (3, 3)
    spread = np.ptp(hard.field_grid, axis=(2, 3))
    assert spread.max() > 0.5  # the field differs across the frame
    with pytest.raises(NeuralscopeError, match="preset"):
        simulate_movie(10, (32, 32), 2, preset="medium")
    with pytest.raises(NeuralscopeError, match="indicator"):
        simulate_movie(10, (32, 32), 2, indicator="GFP")


def test_shift_convention_matches_content():
    # frame(x) = scene(x - d): a frame shifted by +d has its content moved by +d.
    sim = simulate_movie(200, (64, 64), 10, random_state=5, rigid_px=3.0, photons=500.0, read_noise=0.0)
    t = int(np.argmax(np.abs(sim.shifts[:, 0])))
    d = sim.shifts[t]
    ref = sim.movie[np.argmin(np.linalg.norm(sim.shifts, axis=1))]
    cy_ref = (ref.sum(1) @ np.arange(64)) / ref.sum()
    cy_t = (sim.movie[t].sum(1) @ np.arange(64)) / sim.movie[t].sum()
    assert np.sign(cy_t - cy_ref) == np.sign(d[0])


def test_zarr_streaming_matches_memory(tmp_path):
    import zarr

    mem = simulate_movie(90, (40, 40), 5, random_state=2, chunk_frames=30)
    gt = simulate_movie_to_zarr(tmp_path / "m.zarr", 90, (40, 40), 5, random_state=2, chunk_frames=30)
    assert gt.movie is None
    np.testing.assert_allclose(zarr.open_array(str(tmp_path / "m.zarr"), mode="r")[:], mem.movie, rtol=1e-6)
    np.testing.assert_array_equal(gt.spikes, mem.spikes)
