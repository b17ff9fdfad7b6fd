"""Training recipe of the deep model, shared by the training script and the benchmark.

Stage 1 (:func:`pretrain`): simulated recordings only. Stage 2 (:func:`finetune`):
real ground truth, each recording also copied at higher noise levels (noise-level
matching, as CASCADE does), mixed with simulated recordings.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from neuralscope.imaging.spikes.deep import DeepSpikeInference, TrainingTrace
from neuralscope.imaging.spikes.groundtruth import add_noise_to_level, simulated_recordings

__all__ = ["finetune", "noise_augmented", "pretrain"]


def noise_augmented(traces: list[TrainingTrace], copies: int = 2, max_level: float = 8.0,
                    random_state: int = 0) -> list[TrainingTrace]:
    """The traces plus ``copies`` noisier versions of each (target levels uniform up to ``max_level``)."""
    from neuralscope.datasets.calcium import noise_level

    rng = np.random.default_rng(random_state)
    out = list(traces)
    for tr in traces:
        current = float(noise_level(tr.dff, tr.fs))
        for _ in range(copies):
            if current < max_level:
                out.append(add_noise_to_level(tr, float(rng.uniform(current, max_level)), rng))
    return out


def pretrain(n_steps: int = 3000, n_simulated: int = 300, random_state: int = 0,
             log: Callable[[str], None] | None = None) -> DeepSpikeInference:
    """Stage 1: train from scratch on simulated recordings."""
    sims = simulated_recordings(n_simulated, random_state=random_state)
    model = DeepSpikeInference(n_steps=n_steps, learning_rate=3e-3, random_state=random_state)
    return model.fit(sims, log=log)


def finetune(init: DeepSpikeInference, real: list[TrainingTrace], n_steps: int = 1500, n_simulated: int = 100,
             simulated_share: float = 0.3, random_state: int = 0, augment: bool = True,
             simulated: list[TrainingTrace] | None = None,
             log: Callable[[str], None] | None = None) -> DeepSpikeInference:
    """Stage 2: continue from ``init`` on real ground truth (noise-augmented) mixed with simulations.

    Each real dataset gets the same total sampling weight whatever its length,
    so long recordings of one indicator do not dominate. ``augment=False`` takes
    ``real`` as already augmented; ``simulated`` replaces the generated simulations.
    """
    real_aug = noise_augmented(real, random_state=random_state) if augment else list(real)
    sims = simulated if simulated is not None else simulated_recordings(n_simulated, random_state=random_state + 1000)
    groups = [tr.name.split("/")[0] for tr in real_aug]
    lengths = {g: 0.0 for g in groups}
    for g, tr in zip(groups, real_aug):
        lengths[g] += tr.dff.size / tr.fs
    # fit() multiplies weights by model-rate length; divide by dataset length so datasets weigh equally.
    w_real = [(1.0 - simulated_share) / len(lengths) / lengths[g] for g in groups]
    sim_len = sum(tr.dff.size / tr.fs for tr in sims)
    w_sim = [simulated_share / sim_len] * len(sims)
    model = DeepSpikeInference(n_steps=n_steps, learning_rate=1e-3, random_state=random_state)
    return model.fit(real_aug + sims, init=init, weights=w_real + w_sim, log=log)
