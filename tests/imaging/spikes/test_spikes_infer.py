"""infer_spikes and the shipped deep model: calibration, any frame rate, storage, errors."""

import numpy as np
import pytest

from neuralscope.core.errors import NeuralscopeError
from neuralscope.datasets.calcium import simulate_calcium_traces
from neuralscope.imaging.spikes import infer_spikes, spike_correlation
from neuralscope.imaging.spikes.deep import DeepSpikeInference, TrainingTrace


def test_default_model_says_what_it_is_and_is_deterministic():
    sim = simulate_calcium_traces(n_neurons=4, duration=30, fs=30, random_state=21)
    rates, info = infer_spikes(sim.dff, 30.0, return_info=True)
    assert info["method"] == "deep" and "deep_spikes_v1" in info["model"] and info["model_fs"] == 25.0
    assert rates.shape == sim.dff.shape and np.all(rates >= 0)
    np.testing.assert_array_equal(rates, infer_spikes(sim.dff, 30.0))
    one = infer_spikes(sim.dff[1], 30.0)
    np.testing.assert_allclose(one, rates[1], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("fs,indicator,count_tol", [(7.5, "GCaMP6s", None), (30.0, "GCaMP6f", 0.35),
                                                     (100.0, "OGB-1", 0.35)])
def test_any_frame_rate_calibrated_and_better_than_oasis(fs, indicator, count_tol):
    sim = simulate_calcium_traces(n_neurons=12, duration=90, fs=fs, indicator=indicator, noise_level=2.0,
                                  rate=1.0, random_state=31)
    deep = infer_spikes(sim.dff, fs, method="deep")
    oasis = infer_spikes(sim.dff, fs, method="oasis")
    r_deep = np.nanmean(spike_correlation(deep, sim.spikes, fs, bin_width=0.2))
    r_oasis = np.nanmean(spike_correlation(oasis, sim.spikes, fs, bin_width=0.2))
    assert r_deep > 0.5
    assert r_deep > r_oasis
    if count_tol is not None:  # simulated GCaMP6s is over-counted ~2x by the real-data-tuned model (known limit)
        assert deep.sum() == pytest.approx(sim.spikes.sum(), rel=count_tol)


def test_fit_save_load_round_trip(tmp_path):
    sim = simulate_calcium_traces(n_neurons=4, duration=40, fs=25, random_state=5)
    traces = [TrainingTrace(d, s.astype(float), 25.0, f"t{i}") for i, (d, s) in enumerate(zip(sim.dff, sim.spikes))]
    model = DeepSpikeInference(channels=8, window=128, n_steps=150, batch_size=8, random_state=0).fit(traces)
    assert model.history_[-1] < model.history_[0]
    model.save(tmp_path / "m", "test model")
    loaded = DeepSpikeInference.load(tmp_path / "m")
    assert loaded.name_ == "test model"
    np.testing.assert_allclose(loaded.predict(sim.dff, 25.0), model.predict(sim.dff, 25.0), rtol=1e-5, atol=1e-7)
    again = DeepSpikeInference(channels=8, window=128, n_steps=150, batch_size=8, random_state=0).fit(traces)
    np.testing.assert_array_equal(again.predict(sim.dff, 25.0), model.predict(sim.dff, 25.0))


@pytest.mark.parametrize("dff,fs,method", [
    (np.full((2, 100), np.nan), 30.0, "auto"), (np.zeros((2, 3, 100)), 30.0, "auto"), (np.zeros(100), 0.0, "auto"),
    (np.zeros(100), -1.0, "oasis"), (np.zeros(100), 30.0, "cascade"), (np.zeros((0, 100)), 30.0, "auto")])
def test_bad_input_raises(dff, fs, method):
    with pytest.raises(NeuralscopeError):
        infer_spikes(dff, fs, method=method)


def test_time_chunks_give_the_same_output_as_one_pass():
    model = DeepSpikeInference.load_default()
    sim = simulate_calcium_traces(n_neurons=3, duration=100, fs=25, random_state=9)
    xm, nu = model._inputs(sim.dff, 25.0)
    whole = model.predict_model_rate(xm, nu)
    chunked = model.predict_model_rate(xm, nu, batch_size=2, chunk=500)
    np.testing.assert_allclose(chunked, whole, rtol=1e-4, atol=1e-6)
