"""Experiments as data, result tables, confidence intervals, fitting, the C. elegans loader."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from neuralscope.circuits import Experiment, LIFNetwork, SimulationResult
from neuralscope.circuits.celegans import (
    COMMAND_INTERNEURONS,
    GABAERGIC,
    TOUCH_RECEPTORS,
    load_celegans,
)
from neuralscope.circuits.fitting import fit_synaptic_scale
from neuralscope.core.connectome import Connectome
from neuralscope.core.errors import NeuralscopeError


def test_experiment_round_trips_through_json():
    exp = (Experiment("x").activate(["a", "b"], 200.0, start=0.1, stop=0.5).activate("c", weight=3.0)
           .inject([1], 5.0, stop=0.2).silence(["d"]).scale(0.5, pre=["a"], kind="excitatory"))
    again = Experiment.from_json(exp.to_json())
    assert again == exp
    assert exp.control() == Experiment("x (control)", exp.activations, exp.currents)
    assert exp.driven_ids() == ("a", "b", "c", 1)
    with pytest.raises(NeuralscopeError, match="stop"):
        Experiment().activate(["a"], 10.0, start=0.5, stop=0.2)
    with pytest.raises(NeuralscopeError, match="kind"):
        Experiment().scale(2.0, kind="gap")
    with pytest.raises(NeuralscopeError, match="factor"):
        Experiment().scale(-1.0)
    with pytest.raises(NeuralscopeError, match="at least one"):
        Experiment().silence([])


def _result(counts):
    """A SimulationResult with given spike counts (trials x neurons), spikes spread over 1 s."""
    steps, neurons, trials = [], [], []
    for k, row in enumerate(counts):
        for i, n in enumerate(row):
            steps += list(range(0, 10 * n, 10))
            neurons += [i] * n
            trials += [k] * n
    return SimulationResult(np.array(steps, np.int64), np.array(neurons, np.int64),
                            np.array(trials, np.int64), np.array(["n0", "n1"]), len(counts), 1.0, 1e-4)


def test_rates_with_t_and_bootstrap_intervals():
    counts = np.array([[10, 0], [14, 0], [12, 1], [9, 0], [15, 0]])
    res = _result(counts)
    r = res.rates()
    assert r.loc["n0", "rate_hz"] == pytest.approx(12.0)
    lo, hi = stats.t.interval(0.95, 4, loc=12.0, scale=stats.sem(counts[:, 0]))
    assert (r.loc["n0", "ci_low"], r.loc["n0", "ci_high"]) == pytest.approx((lo, hi))
    b = res.rates(method="bootstrap", random_state=0)
    assert b.loc["n0", "ci_low"] < 12.0 < b.loc["n0", "ci_high"]
    assert b.equals(res.rates(method="bootstrap", random_state=0))
    assert res.mean_rate_hz == pytest.approx(counts.sum() / 10)
    df = res.spikes()
    assert list(df.columns) == ["t", "trial", "neuron"] and len(df) == counts.sum()
    assert np.all(np.diff(df.t.to_numpy()) >= 0)
    with pytest.raises(NeuralscopeError, match="neurons"):
        res.rates(["zz"])


def test_compare_welch_interval():
    a = _result(np.array([[20, 1], [22, 0], [18, 1], [21, 0]]))
    b = _result(np.array([[10, 1], [12, 0], [11, 1], [9, 0]]))
    d = a.compare(b)
    assert d.loc["n0", "difference_hz"] == pytest.approx(9.75)
    ttest = stats.ttest_ind([20, 22, 18, 21], [10, 12, 11, 9], equal_var=False)
    ci = ttest.confidence_interval(0.95)
    assert (d.loc["n0", "ci_low"], d.loc["n0", "ci_high"]) == pytest.approx((ci.low, ci.high))
    assert d.loc["n1", "ci_low"] < 0 < d.loc["n1", "ci_high"]
    boot = a.compare(b, method="bootstrap")
    assert boot.loc["n0", "ci_low"] > 0


def test_spikes_parquet_round_trip(tmp_path):
    res = _result(np.array([[3, 2], [1, 0]]))
    res.to_parquet(tmp_path / "s.parquet")
    back = pd.read_parquet(tmp_path / "s.parquet")
    pd.testing.assert_frame_equal(back, res.spikes())


def _feedforward():
    # 0 -> 1 with a moderate synapse: neuron 1's rate rises monotonically with the synaptic scale
    return Connectome.from_indices(np.array([0, 0]), np.array([1, 2]), np.array([25.0, 25.0]), n_neurons=3)


def test_fit_synaptic_scale_reaches_the_target():
    net = LIFNetwork(_feedforward(), "flywire-lif", device="cpu")
    exp = Experiment().activate([0], 150.0)
    fit = fit_synaptic_scale(net, exp, 40.0, neurons=[1, 2], bounds=(0.2, 5.0), duration=0.5, n_trials=4, rtol=0.05)
    assert fit.converged and abs(fit.rate_hz - 40.0) <= 2.0
    check = net.run(exp, duration=0.5, n_trials=4, weight_scale=fit.scale).trial_rates([1, 2]).mean()
    assert check == pytest.approx(fit.rate_hz)  # common random numbers: same seed, same rate
    assert fit.params.w_syn == pytest.approx(0.275 * fit.scale)
    with pytest.raises(NeuralscopeError, match="bracket"):
        fit_synaptic_scale(net, exp, 40.0, neurons=[1], bounds=(0.01, 0.02), duration=0.2)


def test_celegans_loader_and_sign_convention():
    worm = load_celegans()
    assert worm.n_neurons == 300
    assert set(worm.neurons["cell_type"]) == {"neuron"}
    groups = worm.neurons["group"].value_counts()
    assert groups["touch receptor"] == len(TOUCH_RECEPTORS) and groups["command interneuron"] == len(COMMAND_INTERNEURONS)
    chem = ~worm.is_electrical
    pre_names = worm.neuron_ids[worm.pre]
    assert np.all(worm.sign[chem & np.isin(pre_names, GABAERGIC)] == -1)
    assert np.all(worm.sign[chem & ~np.isin(pre_names, GABAERGIC)] == 1)
    assert worm.is_electrical.sum() > 2000
    full = load_celegans(neurons_only=False, gaba_inhibitory=False)
    assert full.n_neurons == 448 and np.all(full.sign == 1)
