"""The whole chain: scores on a simulated movie, per-stage checkpoints, resuming."""

import numpy as np
import pytest

from neuralscope.datasets.movies import simulate_movie
from neuralscope.imaging import pipeline as pl


@pytest.fixture(scope="module")
def small_sim():
    return simulate_movie(300, (72, 72), 8, random_state=31)


def test_pipeline_scores_and_resume(small_sim, tmp_path, monkeypatch):
    from neuralscope.imaging.detection import CellDetector
    from neuralscope.imaging.metrics import match_rois, trace_correlation

    sim = small_sim
    work = tmp_path / "work"

    def broken_fit(self, *a, **k):
        raise RuntimeError("interrupted")

    with monkeypatch.context() as m:  # a run that dies in detection keeps its registration
        m.setattr(CellDetector, "fit", broken_fit)
        with pytest.raises(RuntimeError, match="interrupted"):
            pl.run_pipeline(sim.movie, sim.fs, work, nonrigid=False, spike_method="oasis")
    assert (work / "registration.npz").exists() and (work / "registered.zarr").exists()
    assert not (work / "detection.npz").exists()
    calls = []
    from neuralscope.imaging.registration import Registration

    original = Registration.fit_reference
    monkeypatch.setattr(Registration, "fit_reference", lambda self, mov: calls.append(1) or original(self, mov))
    res = pl.run_pipeline(sim.movie, sim.fs, work, nonrigid=False, spike_method="oasis")
    assert calls == [] and res.resumed == ["registration"]
    assert res.dff.shape == res.spike_rates.shape == (res.n_rois, 300)
    match = match_rois(res.footprints, sim.masks, "centroid", 5)
    assert match["f1"] >= 0.8, match
    r = trace_correlation(res.dff, sim.calcium, match["pairs"])
    assert np.median(r) > 0.7, r
    again = pl.run_pipeline(sim.movie, sim.fs, work, nonrigid=False, spike_method="oasis")
    assert again.resumed == list(pl.STAGES)
    np.testing.assert_array_equal(again.dff, res.dff)
    # Other settings: the checkpoints do not apply and everything is recomputed.
    other = pl.run_pipeline(sim.movie, sim.fs, work, nonrigid=False, spike_method="oasis", cell_radius=4.0)
    assert other.resumed == [] and len(calls) == 1


def test_traces_stage_same_on_local_cluster(small_sim):
    import dask.array as da
    from distributed import Client, LocalCluster

    from neuralscope.imaging.traces import TraceExtractor

    fp = small_sim.footprints
    movie = da.from_array(small_sim.movie, chunks=(64, -1, -1))
    ext = TraceExtractor().fit(fp)
    local = ext.transform(movie, small_sim.fs)
    with LocalCluster(n_workers=1, processes=False, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster):
        dist = ext.transform(movie, small_sim.fs)
    np.testing.assert_allclose(dist.dff, local.dff, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dist.raw, local.raw, rtol=1e-6)
