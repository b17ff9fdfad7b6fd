"""Synthetic data with known low-dimensional structure for the manifold tests."""

from __future__ import annotations

import numpy as np
import pytest


def ring_activity(n_time: int = 1200, n_neurons: int = 24, seed: int = 0, poisson: bool = True,
                  rate: float = 3.0):
    """Neurons cosine-tuned to an angle that drifts smoothly around a ring.

    Returns (X, theta): X (n_time, n_neurons) counts (or Gaussian activity),
    theta (n_time,) the latent angle, the ground truth every embedding should
    recover as a ring.
    """
    rng = np.random.default_rng(seed)
    steps = 0.08 + 0.05 * rng.standard_normal(n_time)
    theta = np.cumsum(steps) % (2 * np.pi)
    pref = np.linspace(0, 2 * np.pi, n_neurons, endpoint=False)
    drive = np.cos(theta[:, None] - pref[None, :])
    if poisson:
        X = rng.poisson(rate * np.exp(1.2 * drive)).astype(float)
    else:
        X = drive + 0.3 * rng.standard_normal(drive.shape)
    return X, theta


def circle(theta: np.ndarray) -> np.ndarray:
    return np.column_stack([np.cos(theta), np.sin(theta)])


@pytest.fixture(scope="module")
def ring():
    return ring_activity()


@pytest.fixture(scope="module")
def clusters():
    """Three well-separated Gaussian clusters in 10-D: (X, labels)."""
    rng = np.random.default_rng(1)
    centres = rng.normal(scale=6.0, size=(3, 10))
    labels = np.repeat(np.arange(3), 60)
    X = centres[labels] + rng.standard_normal((labels.size, 10))
    return X, labels


@pytest.fixture(scope="session")
def make_ring():
    """The :func:`ring_activity` simulator (tests call it with their own sizes)."""
    return ring_activity


@pytest.fixture(scope="session")
def to_circle():
    """Angle -> (cos, sin), the target a ring embedding must encode."""
    return circle
