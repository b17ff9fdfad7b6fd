"""Bayesian optimisation end to end: test functions, mixed spaces, batches, constraints, speed."""

import time

import numpy as np
import pytest

from neuralscope.core.errors import NeuralscopeError
from neuralscope.design import BRANIN_OPTIMUM, TEST_FUNCTIONS, BayesianOptimizer, Experiment
from neuralscope.design.space import SearchSpace


def _run(fn, seed, n_total, **kw):
    exp = Experiment(fn.parameters(), initial=8, seed=seed, **kw)
    for _ in range(n_total):
        p = exp.suggest()
        exp.observe(p, fn(np.array([p[k] for k in exp.space.names])))
    return exp


def test_branin_reaches_small_regret_and_beats_random():
    fn = TEST_FUNCTIONS["branin"]
    exp = _run(fn, 0, 28)
    regret = BRANIN_OPTIMUM - exp.best()[1]
    rng = np.random.default_rng(0)
    lo, hi = fn.bounds.T
    random_best = fn(lo + rng.random((28, 2)) * (hi - lo)).max()
    assert regret < 0.05
    assert regret < (BRANIN_OPTIMUM - random_best) / 5


@pytest.mark.parametrize("acquisition", ["ucb", "noisy_logei"])
def test_other_acquisitions_also_optimise(acquisition):
    fn = TEST_FUNCTIONS["branin"]
    exp = _run(fn, 1, 25, acquisition=acquisition)
    assert BRANIN_OPTIMUM - exp.best()[1] < 1.0  # random search: ~2-5 after 25


def test_mixed_space_finds_best_combination():
    space = [{"name": "x", "type": "float", "bounds": [-2, 2]},
             {"name": "k", "type": "int", "bounds": [0, 6]},
             {"name": "c", "type": "choice", "values": ["a", "b", "c"]}]
    bonus = {"a": 0.0, "b": 1.0, "c": 0.3}

    def f(p):
        return -(p["x"] - 0.5) ** 2 - 0.3 * (p["k"] - 4) ** 2 + bonus[p["c"]]

    exp = Experiment(space, initial=8, seed=0)
    for _ in range(30):
        p = exp.suggest()
        assert isinstance(p["k"], int) and p["c"] in bonus and -2 <= p["x"] <= 2
        exp.observe(p, f(p))
    best, val = exp.best()
    assert best["k"] == 4 and best["c"] == "b" and abs(best["x"] - 0.5) < 0.2


def test_batch_suggestions_are_distinct_and_respect_constraints():
    space = SearchSpace([{"name": "a", "type": "float", "bounds": [0, 1]},
                         {"name": "b", "type": "float", "bounds": [0, 1]}],
                        linear_constraints=[{"coefficients": {"a": 1, "b": 1}, "bound": 1.0}])
    exp = Experiment(space, initial=6, seed=2)
    for p in exp.suggest_batch(6):
        exp.observe(p, p["a"] + 2 * p["b"])  # unconstrained optimum at (1, 1), constrained at (0, 1)
    for _ in range(4):
        batch = exp.suggest_batch(3)
        X = np.array([[p["a"], p["b"]] for p in batch])
        assert np.min(np.linalg.norm(X[:, None] - X[None], axis=-1) + np.eye(3)) > 9e-4
        assert np.all(X.sum(1) <= 1 + 1e-8)
        for p in batch:
            exp.observe(p, p["a"] + 2 * p["b"])
    assert exp.best()[1] > 1.9


def test_suggestion_cpu_time_at_40_observations():
    fn = TEST_FUNCTIONS["hartmann6"]
    exp = _run(fn, 0, 40)
    t_cpu, t0 = time.process_time(), time.perf_counter()
    exp.suggest()
    cpu = time.process_time() - t_cpu
    # CPU time (the wall clock is shared with other jobs on a busy box); the benchmark reports wall time.
    assert cpu < 0.5, cpu
    assert len(exp.suggestion_seconds) == 40 - 8 + 1


def test_optimizer_rejects_bad_settings():
    space = SearchSpace([{"name": "a", "type": "float", "bounds": [0, 1]}])
    X, y = np.array([[0.1], [0.9]]), np.array([0.0, 1.0])
    with pytest.raises(NeuralscopeError):
        BayesianOptimizer(space, acquisition="pi").suggest(X, y)
    with pytest.raises(NeuralscopeError):
        BayesianOptimizer(space).suggest(X, y, n=0)
