"""The connectomics demo sections in quick mode: the segmentation section and the FFN section beside
the affinity pipelines on the same crop, with scores that are computed, not written in."""

import math
import time

import numpy as np

from neuralscope.connectomics.demo import FFN_CROP_QUICK, demo_sections


def test_quick_demo_sections_include_ffn_next_to_the_affinity_pipelines():
    t0 = time.perf_counter()
    (seg_section, seg_metrics), (ffn_section, ffn_metrics) = demo_sections(seed=0, quick=True)
    assert time.perf_counter() - t0 < 90  # ~15 s on a quiet core; the shared test box is slower
    assert {f.name for f in seg_section.figures} == {"slices", "errors"}
    assert seg_metrics["adapted_rand_error"] < 0.4
    [(caption, header, rows), _synapses] = seg_section.tables
    assert caption.startswith("Merge suggestions") and len(rows) == 10
    assert (f"{seg_metrics['proofreading_merges_accepted']} of the {seg_metrics['proofreading_suggestions']} "
            "suggestions are true merges") in caption
    assert f"to {seg_metrics['proofreading_adapted_rand_error']:.3f}" in caption
    assert seg_metrics["proofreading_adapted_rand_error"] <= seg_metrics["adapted_rand_error"]

    assert ffn_section.key == "connectomics-ffn" and [f.name for f in ffn_section.figures] == ["ffn_slices"]
    assert "undertrained" in ffn_section.intro and "FIB-25" in ffn_section.intro
    assert ffn_metrics["crop_shape"] == list(FFN_CROP_QUICK)
    assert ffn_metrics["ffn_seconds"] < 60
    reference = "unet" if "unet_adapted_rand_error" in ffn_metrics else "classical"
    for model in ("ffn", "classical", reference):
        for score in ("vi_split", "vi_merge", "adapted_rand_error"):
            value = ffn_metrics[f"{model}_{score}"]
            assert math.isfinite(value) and value >= 0, (model, score)
        assert 0 <= ffn_metrics[f"{model}_adapted_rand_error"] <= 1
        assert ffn_metrics[f"{model}_n_segments"] >= 1
    # The affinity pipelines segment this easy crop well; the FFN is scored as it is (out of domain),
    # but it must have segmented most of the crop into more than one object.
    assert ffn_metrics[f"{reference}_adapted_rand_error"] < 0.3
    assert ffn_metrics["ffn_segmented_fraction"] > 0.5 and ffn_metrics["ffn_n_segments"] >= 2
    score = ffn_section.figures[0].score
    assert f"ARAND {ffn_metrics['ffn_adapted_rand_error']:.3f}" in score
    assert f"ARAND {ffn_metrics[reference + '_adapted_rand_error']:.3f}" in score
    [(caption, header, rows)] = ffn_section.tables
    assert header[:4] == ["model", "VI split", "VI merge", "ARAND"]
    assert {row[0] for row in rows} >= {"FFN", "classical"}
    ffn_row = next(row for row in rows if row[0] == "FFN")
    assert np.isclose(float(ffn_row[3]), ffn_metrics["ffn_adapted_rand_error"], atol=5e-4)
