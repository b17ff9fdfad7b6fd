"""Registration: sub-pixel rigid shifts, the piecewise-rigid field, dask and distributed runs."""

import numpy as np
import pytest

from neuralscope.datasets.movies import simulate_movie
from neuralscope.imaging.registration import Registration, apply_shifts, crispness, shift_error


@pytest.fixture(scope="module")
def rigid_movie():
    return simulate_movie(300, (96, 96), 14, random_state=11, rigid_px=2.5)


def test_rigid_subpixel_error(rigid_movie):
    sim = rigid_movie
    reg = Registration(random_state=0).fit_reference(sim.movie)
    out = np.empty_like(sim.movie)
    res = reg.unpack(reg.register(sim.movie, out).compute(scheduler="sync"))
    err = shift_error(res.shifts, sim.shifts)
    assert err["rms_px"] < 0.15, err
    assert np.std(sim.shifts) > 1.0  # there was motion to correct
    raw_sharp, reg_sharp = crispness(sim.movie.mean(0)), crispness(out.mean(0))
    assert reg_sharp > 1.1 * raw_sharp


def test_apply_shifts_inverts_known_shift():
    rng = np.random.default_rng(0)
    from scipy.ndimage import gaussian_filter, shift as ndshift

    img = gaussian_filter(rng.random((64, 64)), 2).astype(np.float32)
    d = np.array([[1.5, -2.25]])
    moved = ndshift(img, d[0], order=3, mode="nearest")[None]  # content displaced by +d
    back = apply_shifts(moved, d)[0]
    assert np.abs(back - img)[8:-8, 8:-8].max() < 0.05 * np.ptp(img)


def test_nonrigid_beats_rigid_on_a_warped_movie():
    sim = simulate_movie(240, (128, 128), 24, preset="hard", random_state=2, photons=60.0, read_noise=2.0)
    errors = {}
    for nonrigid in (False, True):
        reg = Registration(nonrigid=nonrigid, block_size=64).fit_reference(sim.movie)
        out = np.empty_like(sim.movie)
        res = reg.unpack(reg.register(sim.movie, out).compute(scheduler="sync"))
        pts = np.stack(np.meshgrid(*reg.block_centres_, indexing="ij"), -1).reshape(-1, 2)
        true = sim.displacement_at(pts)
        est = np.broadcast_to(res.block_shifts.reshape(len(sim.movie), 2, -1).transpose(0, 2, 1), true.shape)
        errors[nonrigid] = shift_error(est, true)["rms_px"]
    assert errors[True] < 0.8 * errors[False], errors


def test_same_result_on_local_cluster(rigid_movie):
    import dask.array as da
    from distributed import Client, LocalCluster

    movie = da.from_array(rigid_movie.movie[:120], chunks=(40, -1, -1))
    reg = Registration(random_state=0).fit_reference(movie)
    local_out = np.empty(movie.shape, np.float32)
    local = reg.register(movie, local_out).compute(scheduler="sync")
    with LocalCluster(n_workers=1, processes=False, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        dist_out = np.empty(movie.shape, np.float32)
        dist = client.compute(reg.register(movie, dist_out)).result()
    np.testing.assert_array_equal(local, dist)
    np.testing.assert_array_equal(local_out, dist_out)
