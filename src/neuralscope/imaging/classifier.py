"""Cell / not-cell classifier for detected ROIs.

A logistic regression on standardised ROI features (area, elongation,
compactness, trace skewness, peak SNR; see
:func:`neuralscope.imaging.detection.roi_features`). The shipped weights in
``imaging/data/roi_classifier.json`` are fitted on simulated movies by
``python -m neuralscope.imaging.train_classifier``; without that file a
shape rule is used (no download, no pickle).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError

__all__ = ["RoiClassifier"]

_WEIGHTS = "roi_classifier.json"


class RoiClassifier:
    """Logistic regression over ROI features.

    Parameters
    ----------
    C : float
        Inverse L2 regularisation strength.

    Attributes
    ----------
    mean_, scale_, coef_ : numpy.ndarray
    intercept_ : float
    """

    def __init__(self, C: float = 1.0):
        self.C = C

    def fit(self, features: Any, labels: Any) -> "RoiClassifier":
        """Fit on ``features`` (n x k) and boolean ``labels`` (n,)."""
        from sklearn.linear_model import LogisticRegression

        X = np.asarray(features, float)
        y = np.asarray(labels, bool)
        if X.ndim != 2 or len(X) != len(y) or len(np.unique(y)) < 2:
            raise NeuralscopeError("labels", "both classes among n labels for n x k features", f"{X.shape}, {y.shape}")
        self.mean_ = X.mean(0)
        self.scale_ = X.std(0) + 1e-9
        lr = LogisticRegression(C=self.C, max_iter=1000).fit((X - self.mean_) / self.scale_, y)
        self.coef_ = lr.coef_[0]
        self.intercept_ = float(lr.intercept_[0])
        return self

    def predict_proba(self, features: Any) -> np.ndarray:
        """Probability that each ROI is a cell."""
        X = np.asarray(features, float).reshape(-1, len(self.coef_))
        if not hasattr(self, "coef_"):
            raise NeuralscopeError("RoiClassifier", "a fitted classifier", "unfitted")
        s = ((X - self.mean_) / self.scale_) @ self.coef_ + self.intercept_
        return 1.0 / (1.0 + np.exp(-np.clip(s, -50, 50)))

    def to_dict(self) -> dict:
        return {"mean": self.mean_.tolist(), "scale": self.scale_.tolist(), "coef": self.coef_.tolist(),
                "intercept": self.intercept_, "C": self.C}

    @classmethod
    def from_dict(cls, d: dict) -> "RoiClassifier":
        clf = cls(C=float(d.get("C", 1.0)))
        clf.mean_, clf.scale_ = np.asarray(d["mean"], float), np.asarray(d["scale"], float)
        clf.coef_, clf.intercept_ = np.asarray(d["coef"], float), float(d["intercept"])
        return clf

    @classmethod
    def default(cls) -> "RoiClassifier":
        """The shipped classifier, or the shape rule when no weights are shipped."""
        try:
            text = resources.files("neuralscope.imaging").joinpath("data", _WEIGHTS).read_text()
            return cls.from_dict(json.loads(text))
        except (FileNotFoundError, OSError):
            return _ShapeRule()


class _ShapeRule(RoiClassifier):
    """Fallback: soma-sized, round, compact ROIs are cells."""

    def predict_proba(self, features: Any) -> np.ndarray:
        X = np.asarray(features, float)
        ok = (X[:, 0] >= 0.25) & (X[:, 0] <= 2.5) & (X[:, 1] <= 2.2) & (X[:, 2] >= 0.6)
        return ok.astype(float)
