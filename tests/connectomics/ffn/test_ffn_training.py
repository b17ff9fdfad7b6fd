"""FFNTrainer: the movement score, loss decreasing over a few steps, seeded determinism."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from neuralscope.connectomics.ffn.model import FFNConfig, FFNModel
from neuralscope.connectomics.ffn.training import FFNTrainer, face_scores
from neuralscope.core.errors import NeuralscopeError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _ffn_helpers import voronoi_labels  # noqa: E402

TINY = FFNConfig(fov=(9, 9, 9), delta=(2, 2, 2), channels=8, depth=2)


def _volume():
    """Voronoi cells with dark 1-voxel membranes: a learnable tiny EM-like volume."""
    labels = voronoi_labels((24, 32, 32), n_cells=10, seed=1)
    edge = np.zeros(labels.shape, bool)
    for ax in range(3):
        d = np.diff(labels, axis=ax) != 0
        sl = [slice(None)] * 3
        sl[ax] = slice(0, -1)
        edge[tuple(sl)] |= d
    raw = np.where(edge, -1.5, 0.5).astype(np.float32)
    raw += np.random.default_rng(0).normal(0, 0.2, raw.shape).astype(np.float32)
    return raw, labels


def test_face_scores_finds_each_face_maximum():
    prob = np.zeros((9, 9, 9), np.float32)
    prob[4, 4, 6] = 0.95  # +x face (delta 2), off by nothing
    prob[2, 5, 3] = 0.7   # -z face, off-centre
    scores = {(axis, sign): (s, off) for s, axis, sign, off in face_scores(prob, (2, 2, 2))}
    assert len(scores) == 6
    assert scores[(2, 1)] == (pytest.approx(0.95), (0, 0, 2))
    assert scores[(0, -1)] == (pytest.approx(0.7), (-2, 1, -1))
    assert scores[(1, 1)][0] == 0.0


def test_a_few_steps_reduce_the_loss():
    raw, labels = _volume()
    torch.manual_seed(0)
    trainer = FFNTrainer(FFNModel(TINY), batch_size=4, passes=2, lr=3e-3, seed=0)
    before = trainer.validation_loss(raw, labels, n_batches=4)
    losses = [trainer.step(raw, labels) for _ in range(40)]
    after = trainer.validation_loss(raw, labels, n_batches=4)
    assert np.all(np.isfinite(losses))
    assert after < 0.7 * before, (before, after)


def test_same_seed_same_training():
    raw, labels = _volume()
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        trainer = FFNTrainer(FFNModel(TINY), batch_size=2, passes=3, seed=5)
        runs.append([trainer.step(raw, labels) for _ in range(3)])
    assert runs[0] == runs[1]


def test_state_dict_resumes_exactly():
    raw, labels = _volume()
    torch.manual_seed(0)
    a = FFNTrainer(FFNModel(TINY), batch_size=2, seed=1)
    a.step(raw, labels)
    state = {k: (v.copy() if isinstance(v, dict) else v) for k, v in a.state_dict().items()}
    torch.manual_seed(9)
    b = FFNTrainer(FFNModel(TINY), batch_size=2, seed=99)
    b.load_state_dict(state)
    assert a.step(raw, labels) == pytest.approx(b.step(raw, labels), rel=1e-6)


def test_bad_training_input_raises():
    raw, labels = _volume()
    with pytest.raises(NeuralscopeError):
        FFNTrainer(FFNModel(TINY), passes=0)
    trainer = FFNTrainer(FFNModel(TINY), batch_size=1)
    with pytest.raises(NeuralscopeError):
        trainer.step(raw[:5], labels[:5])  # smaller than a training region
    with pytest.raises(NeuralscopeError):
        trainer.step(raw, np.zeros_like(labels))  # nothing labelled
