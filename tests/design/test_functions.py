"""Test objectives: known optima, the simulated stimulation neuron."""

import numpy as np

from neuralscope.design.functions import (
    BRANIN_OPTIMUM,
    HARTMANN6_ARGMAX,
    HARTMANN6_OPTIMUM,
    StimulationNeuron,
    branin,
    hartmann6,
)


def test_known_optima():
    assert abs(hartmann6(HARTMANN6_ARGMAX) - HARTMANN6_OPTIMUM) < 1e-5
    X = np.random.default_rng(0).random((20000, 6))
    assert hartmann6(X).max() < HARTMANN6_OPTIMUM
    for x in ([-np.pi, 12.275], [np.pi, 2.275], [9.42478, 2.475]):
        assert abs(branin(x) - BRANIN_OPTIMUM) < 1e-5
    g = np.random.default_rng(1).random((20000, 2)) * [15, 15] + [-5, 0]
    assert branin(g).max() <= BRANIN_OPTIMUM + 1e-9


def test_stimulation_neuron_saturates_and_is_seeded():
    n = StimulationNeuron(random_state=0, noise=False)
    best, value = n.optimum()
    assert 5 <= best["amplitude_ua"] <= 100 and 50 <= best["pulse_width_us"] <= 500
    # Saturating in charge, then block: the response at the best charge beats both extremes.
    low = n({"amplitude_ua": 5, "frequency_hz": best["frequency_hz"], "pulse_width_us": 50})
    high = n({"amplitude_ua": 100, "frequency_hz": best["frequency_hz"], "pulse_width_us": 500})
    assert value > low + 10 and value > high + 5
    n_a, n_b = StimulationNeuron(3), StimulationNeuron(3)
    a = [n_a(best) for _ in range(8)]
    b = [n_b(best) for _ in range(8)]
    assert a == b and len(set(a)) > 1  # seeded, and noisy
