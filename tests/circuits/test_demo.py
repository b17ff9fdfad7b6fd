"""The simulation section of `neuralscope demo` (quick mode)."""

import time

from neuralscope.circuits.demo import demo_sections


def test_quick_demo_section_shows_the_silencing_effect():
    t0 = time.perf_counter()
    messages = []
    sections = demo_sections(seed=0, quick=True, progress=messages.append)
    elapsed = time.perf_counter() - t0
    assert len(sections) == 1 and messages
    section, metrics = sections[0]
    names = [f.name for f in section.figures]
    assert names == ["fi-curve", "raster", "motor-rate", "motor-effect"]
    assert all(f.score for f in section.figures) and all(len(f.png) > 1000 for f in section.figures)
    assert metrics["fi_max_error_discrete_hz"] <= 1.0  # at most one spike in the 1 s window
    assert metrics["fit_converged"]
    _, hi = metrics["motor_difference_ci95_hz"]
    assert metrics["motor_rate_control_hz"] > 1.0 and hi < 0  # silencing the command layer silences the cord
    assert elapsed < 60  # budget 10 s on an idle 2-core machine; generous here for shared CI machines
