"""The demo section: runs in quick mode, well within its time budget, with figures and scores."""

import time

from neuralscope.design.demo import demo_sections


def test_quick_demo_sections():
    t0 = time.perf_counter()
    sections = demo_sections(seed=0, quick=True)
    wall = time.perf_counter() - t0
    assert wall < 60  # the budget is 20 s on an idle core; CI boxes are shared
    (bo, bo_metrics), (rf, rf_metrics) = sections
    assert len(bo.figures) == 2 and len(rf.figures) == 2
    assert all(f.score for f in bo.figures + rf.figures)
    assert bo_metrics["hartmann6_final_regret_bo"] < bo_metrics["hartmann6_final_regret_random"]
    assert bo_metrics["seconds_per_suggestion"] > 0
    assert set(rf_metrics["rfmap_final_error_median"]) == {"active", "random", "grid"}
