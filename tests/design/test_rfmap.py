"""Active RF mapping against random and grid sampling on simulated neurons with known RFs."""

import numpy as np
import pytest

from neuralscope.core.errors import NeuralscopeError
from neuralscope.design.rfmap import OrientationSFNeuron, PositionRFNeuron, RFModel, map_receptive_field, rf_error


def test_model_recovers_a_densely_sampled_rf():
    neuron = PositionRFNeuron(random_state=0)
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(500, 2))
    model = RFModel(neuron.features).fit(X, neuron.respond(X))
    err = rf_error(model, neuron, rng.uniform(-1, 1, size=(2000, 2)))
    assert err < 0.3
    est_peak = X[np.argmax(model.predict_rate(X))]
    assert np.linalg.norm(est_peak - neuron.center) < 0.1


def test_active_beats_random_at_the_same_budget():
    errs = {}
    for s in ("active", "random", "grid"):
        r = map_receptive_field(PositionRFNeuron(random_state=3), s, n_trials=60, checkpoints=[60], random_state=3)
        errs[s] = r.errors[-1]
        assert len(r.stimuli) == 60 and np.all(np.abs(r.stimuli) <= 1)
    assert errs["active"] < 0.8 * errs["random"], errs
    assert errs["active"] < 0.8 * errs["grid"], errs


def test_orientation_sf_neuron_and_seeding():
    a = map_receptive_field(OrientationSFNeuron(1), "active", n_trials=30, checkpoints=[20, 30], random_state=1)
    b = map_receptive_field(OrientationSFNeuron(1), "active", n_trials=30, checkpoints=[20, 30], random_state=1)
    np.testing.assert_array_equal(a.stimuli, b.stimuli)
    assert a.errors == b.errors and a.errors[-1] < 1.0
    assert np.all((a.stimuli[:, 0] >= 0) & (a.stimuli[:, 0] <= np.pi))


def test_bad_strategy_and_budget():
    with pytest.raises(NeuralscopeError):
        map_receptive_field(PositionRFNeuron(0), "clever", n_trials=30)
    with pytest.raises(NeuralscopeError):
        map_receptive_field(PositionRFNeuron(0), "active", n_trials=5)
