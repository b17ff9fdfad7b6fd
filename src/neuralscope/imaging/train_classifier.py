"""Fit the shipped cell / not-cell classifier on simulated movies.

Run: ``python -m neuralscope.imaging.train_classifier`` (about a few minutes
on one core). Candidates found by :class:`~neuralscope.imaging.detection.CellDetector`
(with the classifier off) are labelled cells when they overlap a true soma
(IoU >= 0.3, one-to-one); the weights go to ``imaging/data/roi_classifier.json``.
Training movies use seeds 1000+, never the seeds of the tests, demo or benchmark.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def candidates(preset: str, seed: int, n_frames: int = 1000, shape=(256, 256), n_cells: int = 80):
    """Features and labels of the candidate ROIs in one simulated movie."""
    from neuralscope.datasets.movies import simulate_movie
    from neuralscope.imaging.detection import CellDetector
    from neuralscope.imaging.metrics import match_rois
    from neuralscope.imaging.registration import Registration

    sim = simulate_movie(n_frames, shape, n_cells, preset=preset, random_state=seed)
    reg = Registration(nonrigid=preset == "hard", random_state=seed)
    out = np.empty_like(sim.movie)
    res = reg.unpack(reg.register(sim.movie, out).compute(scheduler="sync"))
    off = np.rint(np.median(res.shifts - sim.shifts, 0)).astype(int)
    true = np.roll(sim.masks, tuple(-off), axis=(1, 2))
    det = CellDetector(classify=False).fit(out, sim.fs, edge=int(np.ceil(np.abs(res.shifts).max())) + 2)
    m = match_rois(det.candidate_footprints_ > 0, true, "iou", 0.3)
    labels = np.zeros(len(det.features_), bool)
    labels[m["pairs"][:, 0]] = True
    return det.features_, labels


def main(argv=None) -> None:
    from neuralscope.imaging.classifier import RoiClassifier

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(Path(__file__).parent / "data" / "roi_classifier.json"))
    ap.add_argument("--movies", type=int, default=2, help="movies per preset")
    args = ap.parse_args(argv)
    X, y = [], []
    for preset in ("easy", "hard"):
        for k in range(args.movies):
            f, lab = candidates(preset, 1000 + k)
            print(f"{preset} seed {1000 + k}: {len(f)} candidates, {lab.sum()} cells", flush=True)
            X.append(f)
            y.append(lab)
    clf = RoiClassifier(C=1.0).fit(np.concatenate(X), np.concatenate(y))
    acc = np.mean((clf.predict_proba(np.concatenate(X)) >= 0.5) == np.concatenate(y))
    print(f"training accuracy {acc:.3f} (training data; the benchmark scores held-out movies)")
    Path(args.out).write_text(json.dumps(clf.to_dict(), indent=1))


if __name__ == "__main__":
    main()
