"""Test objectives with known optima, all to be maximised.

``hartmann6`` is the negated classic Hartmann 6-D function (maximum 3.32237);
``branin`` is the negated Branin-Hoo function (maximum -0.397887), so that
regret is always ``optimum - best_value``. :class:`StimulationNeuron` is a
simulated neuron whose noisy, saturating response to stimulation parameters
has a known best setting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neuralscope.core.errors import NeuralscopeError

_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                  [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]], float)
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]], float)

HARTMANN6_OPTIMUM = 3.32237
HARTMANN6_ARGMAX = np.array([0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573])
BRANIN_OPTIMUM = -0.397887
BRANIN_BOUNDS = np.array([[-5.0, 10.0], [0.0, 15.0]])


def hartmann6(x) -> np.ndarray | float:
    """Negated Hartmann 6-D function on ``[0, 1]^6`` (maximum 3.32237)."""
    X = np.atleast_2d(np.asarray(x, float))
    if X.shape[-1] != 6:
        raise NeuralscopeError("x", "6 coordinates in [0, 1]", X.shape)
    inner = np.einsum("ij,nij->ni", _H6_A, (X[:, None, :] - _H6_P[None]) ** 2)
    val = np.exp(-inner) @ _H6_ALPHA
    return float(val[0]) if np.ndim(x) == 1 else val


def branin(x) -> np.ndarray | float:
    """Negated Branin-Hoo on ``[-5, 10] x [0, 15]`` (maximum -0.397887 at three points)."""
    X = np.atleast_2d(np.asarray(x, float))
    if X.shape[-1] != 2:
        raise NeuralscopeError("x", "2 coordinates (x1 in [-5, 10], x2 in [0, 15])", X.shape)
    x1, x2 = X[:, 0], X[:, 1]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    val = -((x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * np.cos(x1) + 10)
    return float(val[0]) if np.ndim(x) == 1 else val


@dataclass
class TestFunction:
    """A named objective with its box and known maximum."""

    name: str
    bounds: np.ndarray
    optimum: float
    function: object

    def __call__(self, x) -> float:
        return self.function(x)  # type: ignore[operator]

    def parameters(self) -> list[dict]:
        """The search-space description of the box (``x1``, ``x2``, ...)."""
        return [{"name": f"x{i + 1}", "type": "float", "bounds": [float(lo), float(hi)]}
                for i, (lo, hi) in enumerate(self.bounds)]


TEST_FUNCTIONS = {
    "hartmann6": TestFunction("hartmann6", np.tile([0.0, 1.0], (6, 1)), HARTMANN6_OPTIMUM, hartmann6),
    "branin": TestFunction("branin", BRANIN_BOUNDS, BRANIN_OPTIMUM, branin),
}


class StimulationNeuron:
    """A simulated neuron's noisy, saturating response to electrical stimulation.

    Spikes per train (Poisson) as a function of amplitude (uA), frequency (Hz)
    and pulse width (us): charge per phase drives a Naka-Rushton saturation,
    large charges cause depolarisation block, and the neuron follows a band of
    pulse frequencies best. The noiseless response has one interior maximum.

    Parameters
    ----------
    random_state : int
        Seed of the neuron's own parameters (its thresholds and preferred band).
    noise : bool
        Poisson spike counts (True) or the expected count (False).
    """

    PARAMETERS = [
        {"name": "amplitude_ua", "type": "float", "bounds": [5.0, 100.0]},
        {"name": "frequency_hz", "type": "float", "bounds": [10.0, 300.0], "log": True},
        {"name": "pulse_width_us", "type": "int", "bounds": [50, 500]},
    ]

    def __init__(self, random_state: int = 0, noise: bool = True):
        self.random_state = random_state
        self.noise = noise
        r = np.random.default_rng(random_state)
        self.q50_nc = float(r.uniform(4.0, 8.0))  # charge per phase at half saturation (nC)
        self.q_block_nc = float(r.uniform(25.0, 35.0))
        self.f_best_hz = float(r.uniform(60.0, 140.0))
        self.max_spikes = float(r.uniform(25.0, 35.0))
        self._rng = np.random.default_rng([random_state, 1])
        self._best: tuple[dict, float] | None = None

    def expected(self, amplitude_ua: float, frequency_hz: float, pulse_width_us: float) -> float:
        """Mean spike count of one stimulation train."""
        q = amplitude_ua * pulse_width_us * 1e-3  # nC per phase
        drive = q**2.5 / (q**2.5 + self.q50_nc**2.5)
        block = math.exp(-((q / self.q_block_nc) ** 2))
        band = math.exp(-0.5 * (math.log(frequency_hz / self.f_best_hz) / 0.5) ** 2)
        return 1.0 + self.max_spikes * drive * block * band

    def __call__(self, params: dict) -> float:
        try:
            mean = self.expected(float(params["amplitude_ua"]), float(params["frequency_hz"]),
                                 float(params["pulse_width_us"]))
        except KeyError as exc:
            raise NeuralscopeError("params", "amplitude_ua, frequency_hz, pulse_width_us", f"missing {exc}") from None
        return float(self._rng.poisson(mean)) if self.noise else mean

    def optimum(self) -> tuple[dict, float]:
        """The best parameters and expected count (dense search of the noiseless response)."""
        if self._best is None:
            best = (None, -np.inf)
            amps = np.linspace(5, 100, 96)
            widths = np.arange(50, 501, 5)
            q_grid = amps[:, None] * widths[None, :]
            for a_i, w_i in zip(*np.unravel_index(np.arange(q_grid.size), q_grid.shape)):
                v = self.expected(amps[a_i], self.f_best_hz, widths[w_i])
                if v > best[1]:
                    best = ({"amplitude_ua": float(amps[a_i]), "frequency_hz": self.f_best_hz,
                             "pulse_width_us": int(widths[w_i])}, v)
            self._best = best  # type: ignore[assignment]
        return self._best  # type: ignore[return-value]
