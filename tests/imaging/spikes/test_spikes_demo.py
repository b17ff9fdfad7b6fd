"""The spike-inference demo section: quick, scored, deep ahead of OASIS on its own ground truth."""

import time

from neuralscope.imaging.spikes.demo import CONDITIONS, demo_sections


def test_quick_demo_section():
    t0 = time.perf_counter()
    [(section, metrics)] = demo_sections(seed=0, quick=True)
    assert time.perf_counter() - t0 < 20.0
    assert section.key == "imaging-spikes"
    assert len(section.figures) == 1 and section.figures[0].score
    per = [v for v in metrics.values() if isinstance(v, dict)]
    assert len(per) == len(CONDITIONS)
    assert metrics["r_deep_mean"] > metrics["r_oasis_mean"]
    assert all(0.3 < v["count_ratio_deep"] < 3.0 for v in per)
    assert all(v["cpu_s_per_neuron_minute_deep"] < 0.05 for v in per)
