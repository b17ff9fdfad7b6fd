"""The imaging demo section runs in quick mode and scores against its ground truth."""

import time


def test_demo_section_quick():
    from neuralscope.imaging.demo import demo_sections

    t0 = time.perf_counter()
    out = demo_sections(seed=0, quick=True)
    seconds = time.perf_counter() - t0
    assert len(out) == 1
    section, metrics = out[0]
    assert section.figures and section.key == "imaging-pipeline"
    assert metrics["f1"] >= 0.6 and metrics["registration_rms_px"] < 1.0
    assert metrics["trace_r_median"] > 0.5
    assert seconds < 60  # < 20 s on an idle core; the margin is for a shared machine
