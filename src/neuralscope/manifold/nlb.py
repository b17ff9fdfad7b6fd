"""Neural Latents Benchmark (NLB) metrics and the spike-smoothing baseline.

Implemented here from the benchmark's definitions (Pei et al. 2021, "Neural
Latents Benchmark '21"):

- :func:`bits_per_spike` -- co-smoothing bits per spike: Poisson log-likelihood
  of predicted rates for held-out neurons on test trials, relative to a model
  that predicts each neuron's mean rate, in bits per spike;
- :func:`velocity_r2` -- R² of hand velocity decoded from predicted rates by
  ridge regression, fitted on training trials (penalty chosen by trial-grouped
  cross-validation) and scored on test trials;
- :func:`psth_r2` -- R² between condition-averaged predicted rates and the
  true peri-stimulus time histograms (PSTHs);
- :class:`SpikeSmoothing` -- the NLB smoothing baseline: Gaussian-smooth the
  held-in spikes, fit a Poisson GLM from them to the held-out neurons on
  training trials, predict held-out rates on test trials (defined in
  :mod:`neuralscope.manifold.nlb_smoothing`, importable from here);
- :func:`nlb_split` and :func:`pseudo_trials` -- the held-in / held-out
  neuron and train / test trial split, and cutting a continuous recording into
  consecutive windows (pseudo-trials).

Array convention: trial data are (n_trials, n_neurons, n_time) like
:class:`~neuralscope.core.TrialActivity`; rates are expected spike counts per
bin (multiply by ``fs`` for Hz).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import gammaln
from sklearn.linear_model import Ridge

from neuralscope.core.errors import NeuralscopeError
from neuralscope.core.population import ContinuousActivity, TrialActivity
from neuralscope.core.validation import (
    check_array,
    check_consistent_length,
    check_positive,
)

__all__ = [
    "NLBSplit",
    "bits_per_spike",
    "nlb_split",
    "poisson_nll",
    "pseudo_trials",
    "psth_r2",
    "velocity_r2",
]

# NLB replaces zero predicted rates by this value before taking logs, so a
# single zero does not make the score -inf.
_ZERO_RATE = 1e-9


def _trial_array(
    value: Any, name: str, *, counts: bool = False, ndim: tuple[int, ...] = (3,), nonnegative: bool = True
) -> np.ndarray:
    arr = check_array(value.data if isinstance(value, TrialActivity) else value, name, ndim=ndim,
                      nonnegative=nonnegative or counts)
    if counts and not np.array_equal(arr, np.round(arr)):
        raise NeuralscopeError(name, "integer spike counts", "non-integer values")
    return arr


def poisson_nll(rates: Any, spikes: Any) -> float:
    """Summed Poisson negative log-likelihood of ``spikes`` under ``rates``.

    ``sum(rate - k log(rate) + log(k!))``; zero rates are replaced by
    ``1e-9`` as in the NLB evaluation code.

    Parameters
    ----------
    rates : array-like
        Expected counts per bin (>= 0), same shape as ``spikes``.
    spikes : array-like
        Observed counts (non-negative integers).

    Returns
    -------
    float
    """
    r = check_array(rates, "rates", nonnegative=True)
    k = check_array(spikes, "spikes", nonnegative=True)
    if r.shape != k.shape:
        raise NeuralscopeError("rates", f"the shape of spikes {k.shape}", f"shape {r.shape}")
    r = np.where(r == 0, _ZERO_RATE, r)
    return float(np.sum(r - k * np.log(r) + gammaln(k + 1)))


def bits_per_spike(rates: Any, spikes: Any) -> float:
    """Co-smoothing bits per spike (NLB ``co-bps`` when given held-out neurons).

    ``(NLL_null - NLL_model) / (n_spikes * ln 2)``, where the null model
    predicts, for every bin, each neuron's mean count over ``spikes``. So the
    mean-rate model scores exactly 0, better predictions score > 0 and worse
    ones < 0.

    Parameters
    ----------
    rates : array-like of shape (n_trials, n_neurons, n_time) or (n_samples, n_neurons)
        Predicted expected counts per bin (>= 0).
    spikes : array-like, same shape
        Observed spike counts of the same neurons and bins (NLB: held-out
        neurons on test trials).

    Returns
    -------
    float
        Bits per spike (higher is better).

    Raises
    ------
    NeuralscopeError
        On mismatched shapes, negative or non-finite values, non-integer
        counts, or no spikes at all (the score is undefined).

    Examples
    --------
    >>> import numpy as np
    >>> k = np.array([[[0, 2, 0, 2]], [[0, 2, 0, 2]]], dtype=float)
    >>> round(bits_per_spike(np.full(k.shape, 1.0), k), 6)
    0.0
    """
    r = _trial_array(rates, "rates", ndim=(2, 3))
    k = _trial_array(spikes, "spikes", counts=True, ndim=(2, 3))
    if r.shape != k.shape:
        raise NeuralscopeError("rates", f"the shape of spikes {k.shape}", f"shape {r.shape}")
    total = float(k.sum())
    if total <= 0:
        raise NeuralscopeError("spikes", "at least one spike (bits per spike is undefined)", "no spikes")
    axes = tuple(i for i in range(k.ndim) if i != 1)
    null = np.broadcast_to(k.mean(axis=axes, keepdims=True), k.shape)
    return float((poisson_nll(null, k) - poisson_nll(r, k)) / (total * np.log(2.0)))


def _trial_mask(index: Any, n_trials: int, name: str) -> np.ndarray:
    """Boolean mask over trials from a mask or an index array."""
    idx = np.asarray(index)
    if idx.dtype == bool:
        if idx.shape != (n_trials,):
            raise NeuralscopeError(name, f"a boolean mask of {n_trials} trials", f"shape {idx.shape}")
        return idx.copy()
    if idx.ndim != 1 or idx.dtype.kind not in "iu" or (idx.size and (idx.min() < 0 or idx.max() >= n_trials)):
        raise NeuralscopeError(name, f"trial indices in [0, {n_trials})", idx)
    mask = np.zeros(n_trials, dtype=bool)
    mask[idx] = True
    return mask


def _flatten(x: np.ndarray) -> np.ndarray:
    """(n_trials, k, n_time) -> (n_trials * n_time, k)."""
    return x.transpose(0, 2, 1).reshape(-1, x.shape[1])


def _ridge_fit(X: np.ndarray, y: np.ndarray, alpha: float) -> tuple[Ridge, np.ndarray, np.ndarray]:
    mu, sd = X.mean(axis=0), X.std(axis=0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    return Ridge(alpha=alpha).fit((X - mu) / sd, y), mu, sd


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    """Uniform average over outputs of the coefficient of determination."""
    pred = np.asarray(pred).reshape(y.shape)  # a one-column target may come back 1-D
    ss_res = ((y - pred) ** 2).sum(axis=0)
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    ok = ss_tot > 0
    if not ok.any():
        raise NeuralscopeError("velocity", "a target that varies over the test bins", "a constant target")
    return float(np.mean(1.0 - ss_res[ok] / ss_tot[ok]))


def velocity_r2(
    rates: Any,
    velocity: Any,
    train: Any,
    *,
    alphas: Sequence[float] = (1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0),
    n_splits: int = 5,
    lag: int = 0,
) -> float:
    """R² of velocity decoded from rates by ridge regression (NLB ``vel R2``).

    The ridge penalty is chosen by cross-validation over training trials
    (folds are whole trials, so neighbouring bins never straddle a fold);
    the model is refitted on all training trials and scored on the others.
    Rates are z-scored with training statistics.

    Parameters
    ----------
    rates : array-like of shape (n_trials, n_neurons, n_time)
        Predicted rates (any unit; typically all neurons; factors work too).
    velocity : array-like of shape (n_trials, n_outputs, n_time) or (n_trials, n_time)
        Behaviour to decode, one value per bin.
    train : array-like of bool or int
        Training trials (mask or indices); the rest are test trials.
    alphas : sequence of float
        Ridge penalties to choose from.
    n_splits : int
        Cross-validation folds over training trials for choosing the penalty.
    lag : int
        Bins by which behaviour lags the rates: rates at bin ``t`` predict
        velocity at ``t + lag`` (>= 0; motor cortex leads movement by ~100 ms).

    Returns
    -------
    float
        R² on the test trials' bins, averaged uniformly over outputs.
    """
    r = _trial_array(rates, "rates", nonnegative=False)
    v = check_array(velocity, "velocity", ndim=(2, 3))
    if v.ndim == 2:
        v = v[:, None, :]
    check_consistent_length(r.shape[0], v.shape[0], "velocity")
    if v.shape[2] != r.shape[2]:
        raise NeuralscopeError("velocity", f"{r.shape[2]} time bins as in rates", f"{v.shape[2]} bins")
    if isinstance(lag, bool) or not isinstance(lag, (int, np.integer)) or not 0 <= lag < r.shape[2]:
        raise NeuralscopeError("lag", f"an integer in [0, {r.shape[2]})", lag)
    if isinstance(n_splits, bool) or not isinstance(n_splits, (int, np.integer)) or n_splits < 2:
        raise NeuralscopeError("n_splits", "an integer >= 2", n_splits)
    alphas = [check_positive(a, "alphas") for a in np.atleast_1d(alphas)]
    train_mask = _trial_mask(train, r.shape[0], "train")
    if train_mask.sum() < n_splits or (~train_mask).sum() < 1:
        raise NeuralscopeError("train", f">= {n_splits} training trials and >= 1 test trial",
                               f"{int(train_mask.sum())} training trials")
    if lag:
        r, v = r[:, :, : r.shape[2] - lag], v[:, :, lag:]
    tr = np.flatnonzero(train_mask)
    folds = np.array_split(tr, n_splits)  # contiguous blocks of trial indices
    scores = []
    for alpha in alphas:
        fold_scores = []
        for f in folds:
            fit_rows = np.setdiff1d(tr, f)
            model, mu, sd = _ridge_fit(_flatten(r[fit_rows]), _flatten(v[fit_rows]), alpha)
            pred = model.predict((_flatten(r[f]) - mu) / sd)
            fold_scores.append(_r2(_flatten(v[f]), pred))
        scores.append(np.mean(fold_scores))
    best = alphas[int(np.argmax(scores))]
    model, mu, sd = _ridge_fit(_flatten(r[tr]), _flatten(v[tr]), best)
    te = np.flatnonzero(~train_mask)
    return _r2(_flatten(v[te]), model.predict((_flatten(r[te]) - mu) / sd))


def psth_r2(rates: Any, target: Any, conditions: Any) -> float:
    """R² of condition-averaged predicted rates against the true PSTHs (NLB ``psth R2``).

    Both ``rates`` and ``target`` are averaged over the trials of each
    condition; for each neuron the R² is taken over all (condition, bin)
    pairs, then averaged over neurons (neurons whose true PSTH is constant are
    skipped: their R² is undefined).

    Parameters
    ----------
    rates : array-like of shape (n_trials, n_neurons, n_time)
        Predicted rates.
    target : array-like, same shape
        Ground-truth rates (or spikes) in the same units as ``rates``.
    conditions : array-like of shape (n_trials,)
        Condition label of each trial.

    Returns
    -------
    float
    """
    r = _trial_array(rates, "rates", nonnegative=False)
    t = _trial_array(target, "target", nonnegative=False)
    if r.shape != t.shape:
        raise NeuralscopeError("rates", f"the shape of target {t.shape}", f"shape {r.shape}")
    cond = np.asarray(conditions)
    if cond.ndim != 1:
        raise NeuralscopeError("conditions", "a 1-D array of trial labels", f"shape {cond.shape}")
    check_consistent_length(r.shape[0], cond.shape[0], "conditions")
    labels = np.unique(cond)
    pred = np.stack([r[cond == c].mean(axis=0) for c in labels])  # cond x neurons x time
    true = np.stack([t[cond == c].mean(axis=0) for c in labels])
    pred = pred.transpose(1, 0, 2).reshape(r.shape[1], -1)
    true = true.transpose(1, 0, 2).reshape(r.shape[1], -1)
    ss_tot = ((true - true.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    ss_res = ((true - pred) ** 2).sum(axis=1)
    ok = ss_tot > 0
    if not ok.any():
        raise NeuralscopeError("target", "PSTHs that vary for at least one neuron", "constant PSTHs")
    return float(np.mean(1.0 - ss_res[ok] / ss_tot[ok]))


# ----------------------------------------------------------------------------- splits


@dataclass(frozen=True)
class NLBSplit:
    """Index arrays of an NLB-style split (all sorted, disjoint within a pair)."""

    heldin: np.ndarray
    heldout: np.ndarray
    train: np.ndarray
    test: np.ndarray


def nlb_split(
    n_neurons: int,
    n_trials: int,
    heldout_fraction: float = 0.25,
    test_fraction: float = 0.2,
    random_state: int = 0,
) -> NLBSplit:
    """Random held-in / held-out neurons and train / test trials.

    Parameters
    ----------
    n_neurons, n_trials : int
        Sizes (>= 2 each).
    heldout_fraction, test_fraction : float
        Fractions in (0, 1); at least one neuron / trial lands on each side.
    random_state : int
        Seed.

    Returns
    -------
    NLBSplit
    """
    for name, value in (("n_neurons", n_neurons), ("n_trials", n_trials)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
            raise NeuralscopeError(name, "an integer >= 2", value)
    for name, value in (("heldout_fraction", heldout_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < float(value) < 1.0:
            raise NeuralscopeError(name, "a fraction in (0, 1)", value)
    rng = np.random.default_rng(random_state)

    def _cut(n: int, frac: float) -> tuple[np.ndarray, np.ndarray]:
        k = min(max(1, round(frac * n)), n - 1)
        perm = rng.permutation(n)
        return np.sort(perm[k:]), np.sort(perm[:k])

    heldin, heldout = _cut(int(n_neurons), float(heldout_fraction))
    train, test = _cut(int(n_trials), float(test_fraction))
    return NLBSplit(heldin=heldin, heldout=heldout, train=train, test=test)


def pseudo_trials(activity: ContinuousActivity, n_bins: int = 32) -> TrialActivity:
    """Cut a continuous recording into consecutive, non-overlapping windows.

    Each window of ``n_bins`` bins becomes one trial (the tail that does not
    fill a window is dropped). Covariates are carried as ``attrs[name]`` of
    shape (n_trials, k, n_bins); ``trials["start_time"]`` gives each window's
    start in seconds.

    Parameters
    ----------
    activity : ContinuousActivity
    n_bins : int
        Bins per pseudo-trial (>= 2).

    Returns
    -------
    TrialActivity
    """
    if not isinstance(activity, ContinuousActivity):
        raise NeuralscopeError("activity", "a ContinuousActivity", type(activity).__name__)
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 2:
        raise NeuralscopeError("n_bins", "an integer >= 2", n_bins)
    n_trials = activity.n_time // int(n_bins)
    if n_trials < 1:
        raise NeuralscopeError("n_bins", f"at most the recording length {activity.n_time}", n_bins)
    stop = n_trials * int(n_bins)

    def _cut(x: np.ndarray) -> np.ndarray:
        return x[:stop].reshape(n_trials, int(n_bins), -1).transpose(0, 2, 1)

    trials = pd.DataFrame({"start_time": activity.times[:stop:n_bins]})
    out = TrialActivity(_cut(activity.data), fs=activity.fs, t0=0.0, unit_ids=activity.unit_ids,
                        units=activity.units, trials=trials)
    for name in activity.covariates:
        out.attrs[name] = _cut(activity.covariate(name))
    return out


def __getattr__(name: str) -> Any:
    # SpikeSmoothing lives in its own module (which imports the metrics from
    # here); a lazy attribute keeps ``from neuralscope.manifold.nlb import
    # SpikeSmoothing`` working without a circular import.
    if name == "SpikeSmoothing":
        from neuralscope.manifold.nlb_smoothing import SpikeSmoothing

        return SpikeSmoothing
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
