"""Detection: ROI matching scores and detection on simulated movies with known cells."""

import numpy as np
import pytest

from neuralscope.core.errors import NeuralscopeError
from neuralscope.imaging.detection import CellDetector, detect_from_mean_image
from neuralscope.imaging.metrics import match_rois, trace_correlation


def _disk(h, w, cy, cx, r):
    yy, xx = np.mgrid[:h, :w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2


def test_match_rois_known_answer():
    true = np.stack([_disk(40, 40, 10, 10, 4), _disk(40, 40, 30, 30, 4), _disk(40, 40, 10, 30, 4)])
    det = np.stack([_disk(40, 40, 11, 10, 4), _disk(40, 40, 30, 31, 4), _disk(40, 40, 25, 5, 3),
                    _disk(40, 40, 12, 30, 2)])
    m = match_rois(det, true, "centroid", 5)
    assert m["n_matched"] == 3 and m["precision"] == pytest.approx(0.75) and m["recall"] == pytest.approx(1.0)
    assert m["f1"] == pytest.approx(2 * 0.75 / 1.75)
    m_iou = match_rois(det, true, "iou", 0.5)  # the small ROI inside the third cell has IoU ~ 0.2
    assert m_iou["n_matched"] == 2
    r = trace_correlation(np.array([[1, 2, 3.0], [3, 1, 2]]), np.array([[2, 4, 6.0], [1, 2, 3]]), [[0, 0], [1, 1]])
    np.testing.assert_allclose(r, [1.0, -0.5])
    with pytest.raises(NeuralscopeError):
        match_rois(det[:, :10], true)
    none = match_rois(np.zeros((0, 40, 40), bool), true)
    assert none["n_matched"] == 0 and none["f1"] == 0.0 and none["recall"] == 0.0


def test_mean_image_detection_finds_bright_somata():
    rng = np.random.default_rng(0)
    h = w = 96
    centres = [(20, 20), (20, 60), (50, 40), (75, 75), (75, 20), (45, 80)]
    img = 10 + rng.normal(0, 0.5, (h, w))
    true = np.stack([_disk(h, w, cy, cx, 5) for cy, cx in centres])
    for m in true:
        img[m] += 5
    masks = detect_from_mean_image(img, cell_radius=5)
    m = match_rois(masks, true, "centroid", 4)
    assert m["recall"] == 1.0 and m["precision"] >= 0.8


def test_activity_detection_on_simulated_movie():
    from neuralscope.datasets.movies import simulate_movie

    sim = simulate_movie(400, (80, 80), 10, random_state=21, rigid_px=0.0)
    det = CellDetector().fit(sim.movie, sim.fs)
    m = match_rois(det.masks_, sim.masks, "centroid", 5)
    assert m["f1"] >= 0.85, m
    assert det.footprints_.shape[1:] == (80, 80) and det.centroids_.shape == (len(det.footprints_), 2)
    assert det.features_.shape[0] == len(det.is_cell_) >= len(det.footprints_)
