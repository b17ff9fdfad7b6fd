"""Search spaces: encoding, bad parameters, constraints."""

import numpy as np
import pytest

from neuralscope.core.errors import NeuralscopeError
from neuralscope.design.space import SearchSpace

PARAMS = [
    {"name": "lr", "type": "float", "bounds": [1e-4, 1e-1], "log": True},
    {"name": "layers", "type": "int", "bounds": [1, 5]},
    {"name": "act", "type": "choice", "values": ["relu", "tanh", "gelu"]},
]


def test_round_trip_and_projection():
    space = SearchSpace(PARAMS)
    assert space.dim == 5
    p = {"lr": 0.01, "layers": 3, "act": "tanh"}
    x = space.encode(p)
    assert x.shape == (5,) and np.all((0 <= x) & (x <= 1))
    back = space.decode(x)
    assert back["layers"] == 3 and back["act"] == "tanh" and abs(back["lr"] - 0.01) < 1e-12
    rng = np.random.default_rng(0)
    X = space.sample(200, rng)
    decoded = [space.decode(x) for x in X]
    assert {d["layers"] for d in decoded} == {1, 2, 3, 4, 5}  # every integer reachable, ends included
    assert {d["act"] for d in decoded} == {"relu", "tanh", "gelu"}
    np.testing.assert_allclose(space.project(X), X)  # sampled points are already snapped


@pytest.mark.parametrize("bad", [
    {"name": "a", "type": "complex", "bounds": [0, 1]},
    {"name": "a", "type": "float", "bounds": []},
    {"name": "a", "type": "float", "bounds": [1, 1]},
    {"name": "a", "type": "float", "bounds": [0, float("nan")]},
    {"name": "a", "type": "int", "bounds": [0.2, 0.8]},
    {"name": "a", "type": "choice", "values": ["x"]},
    {"name": "a", "type": "float", "bounds": [0, 1], "log": True},
    {"name": "a", "type": "float", "bound": [0, 1]},
])
def test_bad_parameters_raise_one_line_errors(bad):
    with pytest.raises(NeuralscopeError) as err:
        SearchSpace([bad])
    assert "\n" not in str(err.value)


def test_out_of_range_values_and_duplicates():
    space = SearchSpace(PARAMS)
    with pytest.raises(NeuralscopeError):
        space.encode({"lr": 0.5, "layers": 3, "act": "tanh"})
    with pytest.raises(NeuralscopeError):
        space.encode({"lr": 0.01, "layers": 3, "act": "sigmoid"})
    with pytest.raises(NeuralscopeError):
        SearchSpace([PARAMS[0], PARAMS[0]])
    with pytest.raises(NeuralscopeError):
        SearchSpace([])


def test_constraints_filter_samples():
    space = SearchSpace([{"name": "a", "type": "float", "bounds": [0, 1]},
                         {"name": "b", "type": "float", "bounds": [0, 1]}],
                        linear_constraints=[{"coefficients": {"a": 1, "b": 1}, "bound": 0.5}],
                        feasible=lambda p: p["a"] > 0.05)
    X = space.sample(100, np.random.default_rng(1))
    P = [space.decode(x) for x in X]
    assert all(p["a"] + p["b"] <= 0.5 + 1e-9 and p["a"] > 0.05 for p in P)
    again = SearchSpace.from_dict(space.to_dict())
    assert again.to_dict() == space.to_dict()


def test_log_integer_parameter_reaches_both_ends():
    space = SearchSpace([{"name": "n", "type": "int", "bounds": [1, 1000], "log": True}])
    vals = [space.decode(x)["n"] for x in space.sample(256, np.random.default_rng(0))]
    assert min(vals) == 1 and max(vals) >= 900 and np.median(vals) < 100  # log-uniform, not uniform
    for v in (1, 7, 1000):
        assert space.decode(space.encode({"n": v}))["n"] == v
