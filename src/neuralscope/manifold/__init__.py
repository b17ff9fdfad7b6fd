"""Find the structure: low-dimensional embeddings of population activity.

- :class:`PCA`, :class:`FactorAnalysis` -- linear (scikit-learn)
- :class:`TSNE`, :class:`UMAP` -- non-linear neighbour embeddings (openTSNE,
  umap-learn; optional: ``pip install neuralscope[manifold]``), with
  ``transform`` for new points
- :class:`ContrastiveEmbedding` -- a generic InfoNCE contrastive learner (torch):
  positives by time, by behaviour (continuous or labels) or both; MLP or
  convolutional encoders over a window of time bins; several sessions in one
  space. Written from the published descriptions; not CEBRA's code.
- :func:`trial_trajectories` -- condition-averaged and single-trial trajectories
  (:func:`~neuralscope.manifold.plots.plot_trajectories` draws them)
- metrics: :func:`silhouette`, :func:`knn_score`, :func:`knn_holdout_score`,
  :func:`trustworthiness`, :func:`embedding_consistency`
- :func:`run_embedding` -- fit, embed and score one method (``neuralscope embed``)

Every estimator takes a (time x neurons) array, a (trials x neurons x time)
array, or a :class:`~neuralscope.core.ContinuousActivity` /
:class:`~neuralscope.core.TrialActivity`.
"""

from neuralscope.manifold.analysis import METHODS, EmbeddingAnalysis, run_embedding
from neuralscope.manifold.classical import PCA, TSNE, UMAP, FactorAnalysis
from neuralscope.manifold.metrics import (
    embedding_consistency,
    knn_holdout_score,
    knn_score,
    silhouette,
    trustworthiness,
)
from neuralscope.manifold.plots import plot_embedding, plot_embeddings, plot_trajectories
from neuralscope.manifold.trajectories import Trajectories, embedding_trajectories, trial_trajectories

__all__ = [
    "METHODS",
    "PCA",
    "TSNE",
    "UMAP",
    "ContrastiveEmbedding",
    "EmbeddingAnalysis",
    "FactorAnalysis",
    "Trajectories",
    "embedding_consistency",
    "embedding_trajectories",
    "knn_holdout_score",
    "knn_score",
    "plot_embedding",
    "plot_embeddings",
    "plot_trajectories",
    "run_embedding",
    "silhouette",
    "trial_trajectories",
    "trustworthiness",
]

# ---------------------------------------------------------------------------
# Sequential VAE (LFADS-class) and Neural Latents Benchmark metrics: exports of
# seqvae*.py / nlb.py go below (plain imports, and extend __all__ here).
# ---------------------------------------------------------------------------
from neuralscope.manifold.nlb import (  # noqa: E402
    NLBSplit,
    bits_per_spike,
    nlb_split,
    poisson_nll,
    psth_r2,
    pseudo_trials,
    velocity_r2,
)
from neuralscope.manifold.nlb_smoothing import SpikeSmoothing  # noqa: E402

# The torch models load on first use, so ``import neuralscope.manifold`` works
# without the [deep] extra and does not pay torch's import time.
_LAZY = {
    "ContrastiveEmbedding": "neuralscope.manifold.contrastive",
    "SequentialVAE": "neuralscope.manifold.seqvae",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'neuralscope.manifold' has no attribute {name!r}")


__all__ += [
    "NLBSplit",
    "SequentialVAE",
    "SpikeSmoothing",
    "bits_per_spike",
    "nlb_split",
    "poisson_nll",
    "psth_r2",
    "pseudo_trials",
    "velocity_r2",
]
