"""The shipped FIB-25 affinity weights load and predict sensible affinities; end-to-end segmentation."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neuralscope.connectomics.networks import (  # noqa: E402
    UNetConfig,
    labels_to_affinities,
    load_affinity_model,
    predict_affinities,
    segment_em,
)
from neuralscope.connectomics.networks.affinities import DEFAULT_WEIGHTS  # noqa: E402
from neuralscope.core.errors import NeuralscopeError  # noqa: E402


def _auc(scores_pos: np.ndarray, scores_neg: np.ndarray) -> float:
    """Probability that a random interior edge scores above a random boundary edge."""
    from sklearn.metrics import roc_auc_score

    y = np.r_[np.ones(len(scores_pos)), np.zeros(len(scores_neg))]
    return float(roc_auc_score(y, np.r_[scores_pos, scores_neg]))


def test_shipped_weights_load_small():
    assert DEFAULT_WEIGHTS.is_file()
    assert DEFAULT_WEIGHTS.stat().st_size < 5e6
    model, meta = load_affinity_model()
    assert model.config.out_channels == len(meta["config"]["extra"]["offsets"])
    assert {"threshold", "seed_threshold"} <= set(meta["agglomeration"])
    with pytest.raises(NeuralscopeError, match="weights"):
        load_affinity_model("no/such/file.pt")


def test_shipped_weights_separate_boundaries_on_held_out_fib25(shared_data):
    loader = shared_data / "em" / "load_em.py"
    if not (shared_data / "em" / "fib25_training_sample2").is_dir():
        pytest.skip("FIB-25 cube absent")
    spec = importlib.util.spec_from_file_location("load_em", loader)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    raw, gt, _, _ = mod.load_fib25_training_sample2()
    # A crop of the held-out half (the network never saw z >= 100).
    sl = (slice(170, 202), slice(60, 124), slice(100, 164))
    aff = predict_affinities(raw[sl], device="cpu")
    target, mask = labels_to_affinities(gt[sl].astype(np.int64), [(1, 0, 0), (0, 1, 0), (0, 0, 1)])
    keep = mask > 0
    pos, neg = aff[keep & (target > 0.5)], aff[keep & (target < 0.5)]
    assert len(neg) > 100
    assert neg.mean() < pos.mean() - 0.3
    assert _auc(pos, neg) > 0.85


class _IntensityAffinities(torch.nn.Module):
    """A hand-made "network": the affinity of an edge is high unless one of its voxels is dark."""

    config = UNetConfig(out_channels=3, widths=(1,), pool=())

    def forward(self, x):
        out = []
        for axis in (2, 3, 4):
            back = torch.cat([x.narrow(axis, 0, 1), x.narrow(axis, 0, x.shape[axis] - 1)], dim=axis)
            out.append(10.0 * (torch.minimum(x, back) + 1.0))
        return torch.cat(out, dim=1)


def test_segment_em_separates_two_cells_with_a_given_model():
    raw = np.full((8, 16, 16), 200, np.uint8)
    raw[:, :, 8] = 0
    labels, aff = segment_em(raw, _IntensityAffinities(), threshold=0.5, seed_threshold=0.5, device="cpu",
                             return_affinities=True)
    assert aff.shape == (3, 8, 16, 16) and aff[2, :, :, 8].max() < 0.01 and aff[2, :, :, 4].min() > 0.99
    assert labels.shape == raw.shape and labels.dtype == np.uint64
    assert len(np.unique(labels[:, :, :7])) == 1 and len(np.unique(labels[:, :, 10:])) == 1
    assert labels[0, 0, 0] != labels[0, 0, 15]
