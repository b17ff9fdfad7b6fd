"""load_demo: names map to the simulators' defaults."""

from __future__ import annotations

import numpy as np
import pytest

from neuralscope.core import ContinuousActivity, NeuralscopeError, TrialActivity
from neuralscope.datasets import (
    load_demo,
    simulate_decision,
    simulate_reaching,
    simulate_tuning,
)


@pytest.mark.parametrize(
    "name, func, kind",
    [
        ("tuning", simulate_tuning, TrialActivity),
        ("reaching", simulate_reaching, ContinuousActivity),
        ("decision", simulate_decision, TrialActivity),
    ],
)
def test_demo_equals_simulator_defaults(name, func, kind):
    demo = load_demo(name)
    assert isinstance(demo, kind)
    np.testing.assert_array_equal(demo.data, func().data)


def test_demo_seed_is_passed_on():
    assert not np.array_equal(load_demo("tuning").data, load_demo("tuning", random_state=1).data)


@pytest.mark.parametrize("bad", ["mnist", "", None, 3])
def test_unknown_name_lists_valid_names(bad):
    with pytest.raises(NeuralscopeError, match=r"one of \['decision', 'reaching', 'tuning', 'm1'\]"):
        load_demo(bad)
