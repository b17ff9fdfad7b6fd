"""Seeded simulators with known ground truth.

- :func:`simulate_tuning` -- orientation-tuned Poisson population (stimulus decoding)
- :func:`simulate_reaching` -- cosine-tuned motor population with 2-D kinematics
  (continuous decoding)
- :func:`simulate_decision` -- two-condition trials read out from a 3-D latent
  (time-resolved decoding, latent trajectories)
- :func:`simulate_lorenz_population` -- Poisson neurons driven by Lorenz-attractor latents
  (single-trial latent dynamics)
- :func:`load_m1_builtin` -- real macaque M1 reaching data shipped with the package
  (Stevenson et al. 2011, MIT licence; see ``datasets/data/ATTRIBUTION.md``)
- :func:`load_demo` -- any of the above by name, with default parameters

Every simulator takes ``random_state``: the same seed gives identical arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.population import ContinuousActivity, TrialActivity
from neuralscope.datasets.decision import simulate_decision
from neuralscope.datasets.lorenz import simulate_lorenz_population
from neuralscope.datasets.reaching import simulate_reaching
from neuralscope.datasets.tuning import simulate_tuning

__all__ = ["DEMOS", "load_demo", "load_m1_builtin", "simulate_decision", "simulate_lorenz_population",
           "simulate_reaching", "simulate_tuning"]

#: Demo names accepted by :func:`load_demo` and the simulator each runs.
DEMOS: dict[str, Callable[..., object]] = {
    "decision": simulate_decision,
    "reaching": simulate_reaching,
    "tuning": simulate_tuning,
}


def load_m1_builtin() -> ContinuousActivity:
    """Real macaque M1 reaching data shipped inside the package.

    171 units, 15,536 bins of 50 ms, covariates ``"position"`` and
    ``"velocity"`` (n_time, 2) in m and m/s. Recorded in the Miller lab
    (Stevenson et al. 2011); the file is the unmodified copy distributed by
    KordingLab/spykesML under the MIT licence (``datasets/data/ATTRIBUTION.md``).
    """
    from neuralscope.io.realdata import load_m1_reaching

    with resources.as_file(resources.files(__package__) / "data" / "m1_stevenson_2011.mat") as path:
        return load_m1_reaching(path)


def load_demo(name: str, random_state: int = 0) -> TrialActivity | ContinuousActivity:
    """Simulated demo data set by name, with the simulator's default parameters.

    Parameters
    ----------
    name : {"tuning", "reaching", "decision", "m1"}
        ``"tuning"``: :func:`simulate_tuning` (TrialActivity, label
        ``"stimulus"``); ``"reaching"``: :func:`simulate_reaching`
        (ContinuousActivity, covariates ``"position"`` and ``"velocity"``);
        ``"decision"``: :func:`simulate_decision` (TrialActivity, label
        ``"condition"``); ``"m1"``: :func:`load_m1_builtin` (real data).
    random_state : int
        Seed passed to the simulator (unused for real data).

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
    if name == "m1":
        return load_m1_builtin()
    if not isinstance(name, str) or name not in DEMOS:
        raise NeuralscopeError("demo data set", f"one of {sorted(DEMOS) + ['m1']}", name)
    return DEMOS[name](random_state=random_state)  # type: ignore[return-value]
