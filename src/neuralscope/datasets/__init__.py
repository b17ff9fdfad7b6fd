"""Seeded simulators with known ground truth.

- :func:`simulate_tuning` -- orientation-tuned Poisson population (stimulus decoding)
- :func:`simulate_reaching` -- cosine-tuned motor population with 2-D kinematics
  (continuous decoding)
- :func:`simulate_decision` -- two-condition trials read out from a 3-D latent
  (time-resolved decoding, latent trajectories)
- :func:`load_demo` -- any of the above by name, with default parameters

Every simulator takes ``random_state``: the same seed gives identical arrays.
"""

from __future__ import annotations

from collections.abc import Callable

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.population import ContinuousActivity, TrialActivity
from neuralscope.datasets.decision import simulate_decision
from neuralscope.datasets.reaching import simulate_reaching
from neuralscope.datasets.tuning import simulate_tuning

__all__ = ["DEMOS", "load_demo", "simulate_decision", "simulate_reaching", "simulate_tuning"]

#: Demo names accepted by :func:`load_demo` and the simulator each runs.
DEMOS: dict[str, Callable[..., object]] = {
    "decision": simulate_decision,
    "reaching": simulate_reaching,
    "tuning": simulate_tuning,
}


def load_demo(name: str, random_state: int = 0) -> TrialActivity | ContinuousActivity:
    """Simulated demo data set by name, with the simulator's default parameters.

    Parameters
    ----------
    name : {"tuning", "reaching", "decision"}
        ``"tuning"``: :func:`simulate_tuning` (TrialActivity, label
        ``"stimulus"``); ``"reaching"``: :func:`simulate_reaching`
        (ContinuousActivity, covariates ``"position"`` and ``"velocity"``);
        ``"decision"``: :func:`simulate_decision` (TrialActivity, label
        ``"condition"``).
    random_state : int
        Seed passed to the simulator.

    Returns
    -------
    TrialActivity or ContinuousActivity

    Raises
    ------
    NeuralscopeError
        When ``name`` is not one of the demos.

    Examples
    --------
    >>> load_demo("tuning").labels("stimulus").shape
    (240,)
    """
    if not isinstance(name, str) or name not in DEMOS:
        raise NeuralscopeError("name", f"one of {sorted(DEMOS)}", name)
    return DEMOS[name](random_state=random_state)  # type: ignore[return-value]
