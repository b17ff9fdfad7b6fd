"""Decoding benchmark: neuralscope decoders against the peers, side by side.

Not a test: it prints accuracy / R² and fit-time ratios. Peers here are
scikit-learn's LogisticRegression and SVC (same folds, same features) and a
plain least-squares Wiener filter written out in numpy, the reference of
Glaser et al. (2020). Data: the simulated sets, and the real macaque M1
reaching set in ../shared/data/population (velocity, time-ordered 70/15/15
split, 10 bins of history; deep decoders early-stop on the 15% validation part
and are scored on the last 15%).

Run: .venv/bin/python benchmarks/decoding.py [--quick] [--skip-real]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from neuralscope.datasets import simulate_reaching, simulate_tuning
from neuralscope.decoding import (
    CNNClassifier,
    KalmanDecoder,
    LinearDecoder,
    RNNRegressor,
    SVMDecoder,
    TransformerClassifier,
    WienerCascade,
    WienerFilter,
)
from neuralscope.decoding.features import lagged_design

REPO = Path(__file__).resolve().parents[1]
M1_FILE = REPO.parent / "shared" / "data" / "population" / "spykesML_m1_stevenson_2011.mat"


def _timed_fit(model, X, y):
    t0 = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - t0


def bench_classification(seed: int, quick: bool) -> list[dict]:
    data = simulate_tuning(random_state=seed)
    X3, y = data.data, data.labels("stimulus")
    X2 = X3.reshape(len(X3), -1)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(X2, y))
    candidates = {
        "sklearn LogisticRegression": (lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), X2),
        "sklearn SVC (rbf)": (lambda: make_pipeline(StandardScaler(), SVC()), X2),
        "neuralscope linear": (lambda: LinearDecoder(random_state=seed), X3),
        "neuralscope svm": (lambda: SVMDecoder(random_state=seed), X3),
        "neuralscope cnn": (lambda: CNNClassifier(random_state=seed), X3),
    }
    if not quick:
        candidates["neuralscope transformer"] = (lambda: TransformerClassifier(random_state=seed), X3)
    rows = []
    for name, (make, X) in candidates.items():
        pred = np.empty_like(y)
        fit_s = 0.0
        for train, test in folds:
            model = make()
            fit_s += _timed_fit(model, X[train], y[train])
            pred[test] = model.predict(X[test])
        rows.append({"set": "sim tuning (5-fold)", "model": name, "accuracy": accuracy_score(y, pred), "fit_s": fit_s / 5})
    return rows


class PlainWiener:
    """The reference: ordinary least squares on the lagged design, intercept included."""

    def __init__(self, n_history: int):
        self.n_history = n_history

    def fit(self, X, y):
        D = np.hstack([lagged_design(X, self.n_history), np.ones((len(X), 1))])
        self.coef_, *_ = np.linalg.lstsq(D, y, rcond=None)
        return self

    def predict(self, X):
        return np.hstack([lagged_design(X, self.n_history), np.ones((len(X), 1))]) @ self.coef_


def bench_regression(name: str, X: np.ndarray, y: np.ndarray, seed: int, quick: bool, n_history: int = 10) -> list[dict]:
    """Time-ordered 70/15/15 split; scores on the last 15%."""
    n = len(X)
    i_val, i_test = int(0.70 * n), int(0.85 * n)
    # z-score inputs with training statistics only (as Glaser et al.); the decoders also standardise internally.
    mu, sd = X[:i_val].mean(0), X[:i_val].std(0) + 1e-9
    Xz = (X - mu) / sd
    val_fraction = (i_test - i_val) / i_test
    candidates = {
        "plain Wiener (numpy lstsq)": (lambda: PlainWiener(n_history), "train"),
        # Wiener has no hyper-parameter to validate: also fit it on train+val, the stricter comparison.
        "plain Wiener, train+val": (lambda: PlainWiener(n_history), "train+val"),
        "neuralscope wiener": (lambda: WienerFilter(n_history=n_history), "train"),
        "neuralscope wiener-cascade": (lambda: WienerCascade(n_history=n_history), "train"),
        "neuralscope kalman": (lambda: KalmanDecoder(), "train"),
        # Activity leads movement by ~100 ms (2 bins of 50 ms) in M1.
        "neuralscope kalman (lag 2)": (lambda: KalmanDecoder(lag=2), "train"),
        "neuralscope gru": (lambda: RNNRegressor(cell="gru", n_history=n_history, validation_fraction=val_fraction,
                                                 random_state=seed), "train+val"),
    }
    if not quick:
        candidates["neuralscope lstm"] = (lambda: RNNRegressor(cell="lstm", n_history=n_history,
                                                               validation_fraction=val_fraction, random_state=seed), "train+val")
    rows = []
    for model_name, (make, part) in candidates.items():
        stop = i_val if part == "train" else i_test
        model = make()
        fit_s = _timed_fit(model, Xz[:stop], y[:stop])
        # Predict with the history that precedes the test block (causal), then keep the test part.
        start = max(i_test - n_history, 0)
        pred = np.asarray(model.predict(Xz[start:])).reshape(-1, y.shape[1])[i_test - start:]
        r2 = [float(r2_score(y[i_test:, j], pred[:, j])) for j in range(y.shape[1])]
        rows.append({"set": name, "model": model_name, "r2": r2, "r2_mean": float(np.mean(r2)), "fit_s": fit_s})
    return rows


def _print(rows: list[dict], reference: str, key: str) -> None:
    by_set: dict[str, list[dict]] = {}
    for r in rows:
        by_set.setdefault(r["set"], []).append(r)
    for set_name, group in by_set.items():
        ref = next((r for r in group if r["model"] == reference), group[0])
        print(f"\n== {set_name}   (ratios against {ref['model']})")
        print(f"{'model':<30} {key:>10} {'per output':>16} {'fit s':>8} {'fit ratio':>10}")
        for r in group:
            per = ", ".join(f"{v:.3f}" for v in r.get("r2", [])) or "-"
            print(f"{r['model']:<30} {r[key]:>10.3f} {per:>16} {r['fit_s']:>8.2f} {r['fit_s'] / max(ref['fit_s'], 1e-9):>10.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="fewer models")
    parser.add_argument("--skip-real", action="store_true", help="simulated sets only")
    parser.add_argument("--json", type=Path, help="also write all rows to this JSON file")
    args = parser.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass

    cls_rows = bench_classification(args.seed, args.quick)
    _print(cls_rows, "sklearn LogisticRegression", "accuracy")

    sim = simulate_reaching(random_state=args.seed)
    reg_rows = bench_regression("sim reaching velocity (70/15/15)", sim.data, sim.covariate("velocity"), args.seed, args.quick)
    if not args.skip_real:
        if M1_FILE.exists():
            from neuralscope.io import load_m1_reaching

            m1 = load_m1_reaching(M1_FILE)
            reg_rows += bench_regression("real M1 reaching velocity (70/15/15)", m1.data, m1.covariate("velocity"),
                                         args.seed, args.quick)
        else:
            print(f"\n(real M1 set not found at {M1_FILE}; skipped)", file=sys.stderr)
    _print(reg_rows, "plain Wiener (numpy lstsq)", "r2_mean")
    if args.json:
        args.json.write_text(json.dumps(cls_rows + reg_rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
