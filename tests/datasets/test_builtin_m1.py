"""The real M1 set shipped inside the package."""

import hashlib

import numpy as np

from neuralscope.datasets import load_demo, load_m1_builtin


def test_builtin_m1_shapes_and_units():
    m1 = load_m1_builtin()
    assert (m1.n_time, m1.n_neurons) == (15536, 171)
    assert m1.fs == 20.0
    v = m1.covariate("velocity")
    assert v.shape == (15536, 2) and np.all(np.isfinite(v))
    # Reaches of ~10 cm at tens of cm/s: velocity in m/s stays well below 1.
    assert 0.02 < np.abs(v).max() < 1.0
    assert load_demo("m1").n_neurons == 171


def test_builtin_m1_is_the_unmodified_shared_file(shared_data):
    from importlib import resources

    shipped = resources.files("neuralscope.datasets") / "data" / "m1_stevenson_2011.mat"
    original = shared_data / "population" / "spykesML_m1_stevenson_2011.mat"
    assert hashlib.sha256(shipped.read_bytes()).hexdigest() == hashlib.sha256(original.read_bytes()).hexdigest()
