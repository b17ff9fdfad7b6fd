"""Trial trajectories and the figures drawn from them."""

import numpy as np
import pytest

from neuralscope.core import NeuralscopeError
from neuralscope.datasets import simulate_decision
from neuralscope.manifold import FactorAnalysis, embedding_consistency
from neuralscope.manifold.plots import plot_embedding, plot_embeddings, plot_trajectories
from neuralscope.manifold.trajectories import embedding_trajectories, trial_trajectories


@pytest.fixture(scope="module")
def decision():
    return simulate_decision(n_trials=60, random_state=0)


def test_condition_trajectories_diverge_and_follow_the_latent(decision):
    traj = trial_trajectories(decision, "condition", n_components=3, smooth=2.0)
    n_trials, _, n_time = decision.data.shape
    assert traj.single.shape == (n_trials, n_time, 3) and traj.mean.shape == (2, n_time, 3)
    assert list(traj.conditions) == [0, 1]
    gap = np.linalg.norm(traj.mean[0] - traj.mean[1], axis=1)
    assert gap[-5:].mean() > 3 * gap[:5].mean()  # the choice variable separates the conditions over time
    evr = traj.explained_variance_ratio
    assert np.all(np.diff(evr) <= 0) and 0.5 < evr.sum() <= 1.0
    assert 0.0 < traj.single_trial_variance_explained < 1.0
    truth = decision.attrs["latents"].transpose(0, 2, 1).reshape(-1, 3)
    assert embedding_consistency(traj.single.reshape(-1, 3), truth) > 0.5
    np.testing.assert_allclose(traj.times, decision.times)
    assert traj.to_json()["conditions"] == [0, 1]


def test_fit_on_single_trials_and_other_estimators(decision):
    traj = trial_trajectories(decision.data, decision.labels("condition"), n_components=2, fit_on="single",
                              method="fa", fs=decision.fs)
    assert traj.method == "FactorAnalysis" and traj.explained_variance_ratio is None
    custom = trial_trajectories(decision, None, n_components=2, method=FactorAnalysis(2))
    assert custom.mean.shape[0] == 1  # no condition: one average


@pytest.mark.parametrize("kwargs, match", [
    (dict(condition=np.zeros(5)), "condition"),
    (dict(fit_on="both"), "fit_on"),
    (dict(smooth=-1.0), "smooth"),
    (dict(n_components=80), "n_components"),
    (dict(method="isomap"), "method"),
])
def test_bad_arguments(decision, kwargs, match):
    with pytest.raises(NeuralscopeError, match=match):
        trial_trajectories(decision, **kwargs)


def test_figures_in_two_and_three_dimensions(decision):
    traj = trial_trajectories(decision, "condition", n_components=3)
    fig3 = plot_trajectories(traj)
    assert hasattr(fig3.axes[0], "zaxis")
    fig2 = plot_trajectories(traj, dims=2, show_single=False)
    assert not hasattr(fig2.axes[0], "zaxis")
    with pytest.raises(NeuralscopeError, match="dims"):
        plot_trajectories(trial_trajectories(decision, n_components=2), dims=3)
    Z = traj.single.reshape(-1, 3)
    labels = np.repeat(decision.labels("condition"), decision.n_time)
    assert len(plot_embeddings([("a", Z), ("b", Z[:, :2])], labels, labels=True).axes) == 2
    fig = plot_embedding(Z, Z[:, 0], color_label="dim 1", cmap="twilight")
    assert len(fig.axes) == 2  # the scatter and its colour bar
    made = embedding_trajectories(traj.single, decision.labels("condition"))
    np.testing.assert_allclose(made.mean, traj.mean)
