import numpy as np
import pandas as pd
import pytest

from neuralscope.core import ContinuousActivity, NeuralscopeError, SpikeTrains, TrialActivity


def test_continuous_basic_properties():
    act = ContinuousActivity(np.ones((50, 4)), fs=10.0, t0=2.0, covariates={"v": np.zeros((50, 2)), "s": np.arange(50)})
    assert act.n_time == 50 and act.n_neurons == 4
    assert act.duration == pytest.approx(5.0)
    assert act.times[0] == 2.0 and act.times[-1] == pytest.approx(2.0 + 49 / 10)
    assert act.covariate("s").shape == (50, 1)
    assert list(act.unit_ids) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "kwargs, parameter",
    [
        ({"data": np.ones(5), "fs": 1.0}, "data"),
        ({"data": np.full((3, 2), np.nan), "fs": 1.0}, "data"),
        ({"data": np.ones((3, 2)), "fs": 0.0}, "fs"),
        ({"data": np.ones((0, 2)), "fs": 1.0}, "data"),
        ({"data": np.ones((3, 2)), "fs": 1.0, "covariates": {"v": np.ones(4)}}, "covariates['v']"),
        ({"data": np.ones((3, 2)), "fs": 1.0, "unit_ids": [1, 1]}, "unit_ids"),
    ],
)
def test_continuous_rejects_bad_input(kwargs, parameter):
    with pytest.raises(NeuralscopeError) as info:
        ContinuousActivity(**kwargs)
    assert info.value.parameter == parameter
    assert "\n" not in str(info.value)


def test_unknown_covariate_names_the_choices():
    act = ContinuousActivity(np.ones((5, 2)), fs=1.0, covariates={"velocity": np.zeros(5)})
    with pytest.raises(NeuralscopeError, match="velocity"):
        act.covariate("speed")


def test_epoch_cuts_windows_and_drops_out_of_range_trials():
    data = np.arange(100, dtype=float)[:, None] * np.array([1.0, -1.0])
    act = ContinuousActivity(data, fs=10.0)
    trials = pd.DataFrame({"start_time": [1.0, 5.0, 9.8], "stim": ["a", "b", "c"]})
    ep = act.epoch(trials, window=(-0.5, 0.5))
    assert ep.data.shape == (2, 2, 10)  # the last trial runs past the end
    assert ep.attrs["n_dropped"] == 1
    np.testing.assert_array_equal(ep.data[0, 0], np.arange(5, 15))
    np.testing.assert_array_equal(ep.data[1, 1], -np.arange(45, 55))
    assert list(ep.labels("stim")) == ["a", "b"]
    assert ep.times[0] == pytest.approx(-0.5)


def test_trial_activity_labels_and_conversion():
    data = np.random.default_rng(0).poisson(2.0, size=(6, 3, 4)).astype(float)
    tr = TrialActivity.from_labels(data, np.array([0, 1, 0, 1, 0, 1]), fs=20.0)
    assert list(tr.labels()) == [0, 1, 0, 1, 0, 1]
    cont = tr.to_continuous()
    assert cont.data.shape == (24, 3)
    np.testing.assert_array_equal(cont.data[4:8], data[1].T)
    np.testing.assert_array_equal(cont.covariates["label"][4:8], 1.0)
    np.testing.assert_allclose(tr.mean_over_time(), data.mean(axis=2))


def test_trial_activity_rejects_mismatched_table():
    with pytest.raises(NeuralscopeError, match="trials"):
        TrialActivity(np.ones((3, 2, 2)), fs=1.0, trials=pd.DataFrame({"y": [1, 2]}))


def test_spike_binning_counts_every_spike_once():
    rng = np.random.default_rng(1)
    times = [np.sort(rng.uniform(0, 10, size=n)) for n in (50, 0, 200)]
    st = SpikeTrains(times, t_start=0.0, t_stop=10.0)
    binned = st.bin(0.1)
    assert binned.data.shape == (100, 3)
    np.testing.assert_array_equal(binned.data.sum(axis=0), [50, 0, 200])
    assert binned.fs == pytest.approx(10.0)
    np.testing.assert_allclose(st.firing_rates(), [5.0, 0.0, 20.0])


def test_spike_trains_reject_nan_and_bad_bounds():
    with pytest.raises(NeuralscopeError):
        SpikeTrains([np.array([0.1, np.nan])])
    with pytest.raises(NeuralscopeError, match="t_stop"):
        SpikeTrains([np.array([1.0])], t_start=2.0, t_stop=1.0)
    with pytest.raises(NeuralscopeError, match="bin_size"):
        SpikeTrains([np.array([1.0])], t_start=0.0, t_stop=1.0).bin(5.0)


def test_repr_is_short():
    act = ContinuousActivity(np.zeros((1000, 50)), fs=20.0, covariates={"velocity": np.zeros((1000, 2))})
    assert repr(act) == "ContinuousActivity(n_time=1000, n_neurons=50, fs=20, t0=0, covariates=[velocity(2,)])"
    tr = TrialActivity.from_labels(np.zeros((4, 3, 2)), {"stim": [0, 1, 0, 1]}, fs=10)
    assert "n_trials=4" in repr(tr) and "stim" in repr(tr) and len(repr(tr)) < 200
    assert repr(SpikeTrains([np.array([0.5, 1.0])])).startswith("SpikeTrains(n_units=1, n_spikes=2")
