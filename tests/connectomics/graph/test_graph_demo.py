"""The graph demo section: figures, ground-truth score lines and metrics, in quick mode."""

import time

from neuralscope.connectomics.graph.demo import demo_sections


def test_quick_demo_section():
    t0 = time.perf_counter()
    [(section, metrics)] = demo_sections(seed=0, quick=True)
    assert time.perf_counter() - t0 < 60  # < 20 s on a quiet core; the shared test box is slower
    assert {f.name for f in section.figures} == {"degrees", "motifs", "blocks", "communities"}
    assert metrics["triad_census_agrees_with_networkx"] is True
    assert metrics["n_neurons"] == 300 and 0.3 < metrics["reciprocity"] < 0.45
    assert metrics["modularity"] > metrics["null_modularity_mean"] + 0.1
    assert metrics["motif_z"]["mutual"] > 5  # worm neurons reciprocate far more than degrees alone predict
    assert "16/16" in section.figures[1].score
