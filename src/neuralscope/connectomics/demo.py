"""The EM-segmentation part of ``neuralscope demo``: a simulated EM volume with known dense
segmentation and synapses, segmented block-wise, scored, and turned into a connectome; then the
flood-filling network on a crop of it, scored next to the affinity pipelines on the same crop."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from neuralscope.report import Section


def _colour(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Random, stable colours per id (0 black) for label images."""
    rng = np.random.default_rng(seed)
    ids, inverse = np.unique(labels, return_inverse=True)
    palette = rng.uniform(0.15, 1.0, size=(len(ids), 3))
    palette[ids == 0] = 0.0
    return palette[inverse].reshape(*labels.shape, 3)


def _slices_figure(raw: np.ndarray, truth: np.ndarray, segs: dict[str, np.ndarray], z: int,
                   raw_title: str = "simulated EM", panel_width: float = 4.0):
    """Raw, truth and each segmentation at slice ``z`` (FFN panels note that black is unsegmented)."""
    import matplotlib.pyplot as plt

    n = 2 + len(segs)
    fig, axes = plt.subplots(1, n, figsize=(panel_width * n, panel_width * 1.08))
    axes[0].imshow(raw[z], cmap="gray")
    axes[0].set_title(f"{raw_title}, slice z={z}")
    axes[1].imshow(_colour(truth[z], 1))
    axes[1].set_title("ground truth (dense)")
    for ax, (name, seg) in zip(axes[2:], segs.items()):
        ax.imshow(_colour(seg[z], 2))
        ax.set_title(name + (" (black: unsegmented)" if name == "FFN" else ""))
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def _errors_figure(scores, n: int = 15):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    split = scores.split_objects.head(n)
    merge = scores.merge_objects.head(n)
    axes[0].bar(np.arange(len(split)), split["vi_split"], color="#c0504d")
    axes[0].set_xticks(np.arange(len(split)), [str(int(i)) for i in split["truth_id"]], rotation=90, fontsize=7)
    axes[0].set_title("largest split errors (true objects)")
    axes[0].set_ylabel("share of VI split (bits)")
    axes[1].bar(np.arange(len(merge)), merge["vi_merge"], color="#4f81bd")
    axes[1].set_xticks(np.arange(len(merge)), [str(int(i)) for i in merge["seg_id"]], rotation=90, fontsize=7)
    axes[1].set_title("largest merge errors (segments)")
    axes[1].set_ylabel("share of VI merge (bits)")
    fig.tight_layout()
    return fig


def demo_sections(seed: int = 0, quick: bool = False,
                  progress: Callable[[str], None] | None = None) -> list[tuple[Section, dict]]:
    """Simulated EM -> block-wise segmentation -> VI / ARAND -> synapses -> connectome; FFN on a crop."""
    from neuralscope.connectomics.blockwise import segment_blockwise
    from neuralscope.connectomics.boundaries import ClassicalBoundary
    from neuralscope.connectomics.metrics import evaluate_segmentation, variation_of_information
    from neuralscope.connectomics.pipeline import ClassicalSegmenter
    from neuralscope.connectomics.synapses import (
        assign_partners,
        detect_synapses_classical,
        match_synapses,
        synapses_to_connectome,
    )
    from neuralscope.datasets.em import simulate_em_volume

    say = progress or (lambda m: None)
    t_start = time.perf_counter()
    shape = (24, 96, 96) if quick else (64, 192, 192)
    block = (12, 96, 96) if quick else (32, 96, 96)
    say(f"connectomics: simulating an EM volume {shape}")
    vol = simulate_em_volume(shape, n_synapses=25 if quick else 60, random_state=seed)
    section = Section(
        "Map the connections: EM segmentation and synapses", key="connectomics-segmentation",
        intro=("A simulated EM volume (neurites and somata as a dense Voronoi partition of line segments, dark "
               "membranes, per-cell grey levels, slice-wise gain changes, an illumination field and noise; dark "
               "synaptic densities on the presynaptic side of known cell contacts). It is segmented block-wise "
               "with halos by the classical pipeline: black-top-hat membrane map -> affinities -> seeded "
               "watershed -> hierarchical mean-affinity merging, the blocks stitched into one global segmentation "
               "by overlap in the halos. Scores against the known dense truth: variation of information (bits; "
               "split = over-segmentation, merge = under-segmentation) and adapted Rand error."),
    )
    boundary = ClassicalBoundary().fit(vol.raw)
    segmenter = ClassicalSegmenter(boundary)
    with tempfile.TemporaryDirectory() as tmp:
        say("connectomics: block-wise segmentation")
        t0 = time.perf_counter()
        blocks = segment_blockwise(vol.raw, segmenter, Path(tmp) / "seg.zarr", block_shape=block, halo=(12, 24, 24))
        seg_seconds = time.perf_counter() - t0
        seg = blocks.load()
        single = None
        if not quick:
            say("connectomics: the same volume as a single block, for comparison")
            single = segment_blockwise(vol.raw, segmenter, Path(tmp) / "one.zarr", block_shape=shape,
                                       halo=(0, 0, 0)).load()
    scores = evaluate_segmentation(seg, vol.labels)
    n_voxels = int(np.prod(shape))
    metrics = {
        "shape": list(shape), "n_cells": int(len(np.unique(vol.labels))), "n_segments": blocks.n_segments,
        "n_blocks": blocks.n_blocks, "voxels_per_second": n_voxels / seg_seconds, **scores.as_dict(),
    }
    section.add_figure(
        "slices", _slices_figure(vol.raw, vol.labels, {"neuralscope segmentation": seg}, shape[0] // 2),
        caption=(f"{shape[0]} x {shape[1]} x {shape[2]} voxels, {metrics['n_cells']} cells; segmented in "
                 f"{blocks.n_blocks} blocks of {block} ({metrics['voxels_per_second'] / 1e6:.2f} M voxels/s on "
                 "this machine). Colours are arbitrary per id."),
        score=(f"VI split {scores.vi_split:.3f}, VI merge {scores.vi_merge:.3f} bits; adapted Rand error "
               f"{scores.adapted_rand_error:.3f}; {blocks.n_segments} segments for {metrics['n_cells']} cells"),
    )
    section.add_figure(
        "errors", _errors_figure(scores),
        caption="Per-object error lists: the true objects cut into most pieces and the segments gluing most objects.",
        score=f"worst split: truth {int(scores.split_objects.iloc[0]['truth_id'])} in "
              f"{int(scores.split_objects.iloc[0]['n_segments'])} segments; worst merge: segment "
              f"{int(scores.merge_objects.iloc[0]['seg_id'])} over {int(scores.merge_objects.iloc[0]['n_truth'])} cells",
    )
    metrics.update(_proofreading_table(section, seg, boundary, vol.raw, vol.labels, scores.adapted_rand_error))
    if single is not None:
        split, merge = variation_of_information(seg, single, ignore_truth=())
        metrics.update({"blockwise_vs_single_vi_split": split, "blockwise_vs_single_vi_merge": merge})
        section.add_note(f"Block-wise ({blocks.n_blocks} blocks) against a single-block run of the same volume: "
                         f"VI {split:.4f} / {merge:.4f} bits (0 = identical partitions).")
    say("connectomics: synapses")
    found = detect_synapses_classical(vol.raw)
    match = match_synapses(found, vol.synapses, tolerance=5.0)
    assigned = assign_partners(found, seg, radius=6.0)
    connectome = synapses_to_connectome(assigned)
    truth_assigned = assign_partners(vol.synapses, vol.labels)
    truth_pairs = set(zip(vol.synapses["pre_id"], vol.synapses["post_id"]))
    # A detected edge is right when its two segments are mostly the true pre and post cells.
    dominant = _dominant_truth(seg, vol.labels)
    found_pairs = {(dominant.get(int(a), 0), dominant.get(int(b), 0))
                   for a, b in zip(assigned.loc[assigned["valid"], "pre_segment"], assigned.loc[assigned["valid"], "post_segment"])}
    correct_edges = len(found_pairs & truth_pairs)
    metrics.update({f"synapse_{k}": v for k, v in match.as_dict().items()})
    metrics.update({"connectome_edges": connectome.n_edges, "true_edges": len(truth_pairs),
                    "edges_correct": correct_edges, "truth_partner_accuracy": float(truth_assigned["valid"].mean())})
    section.add_table("Synapses and connectome (tolerance 5 voxels)",
                      ["quantity", "value"],
                      [["true synapses", len(vol.synapses)], ["detected (classical dark-blob detector)", len(found)],
                       ["precision", f"{match.precision:.3f}"], ["recall", f"{match.recall:.3f}"],
                       ["edges in the segmented connectome", connectome.n_edges],
                       ["true cell -> cell edges recovered", f"{correct_edges} of {len(truth_pairs)}"]])
    metrics["seconds"] = time.perf_counter() - t_start
    section.add_note(f"Connectomics section took {metrics['seconds']:.1f} s on CPU.")
    return [(section, metrics), _ffn_section(vol.raw, vol.labels, quick, say)]


def _proofreading_table(section: Section, seg: np.ndarray, boundary: Any, raw: np.ndarray, truth: np.ndarray,
                        arand: float, shown: int = 10, answered: int = 100) -> dict:
    """The contacts most worth a proofreader's look, and ARAND once the truth has answered the first ones."""
    from neuralscope.connectomics.agglomeration import boundary_to_affinities
    from neuralscope.connectomics.metrics import adapted_rand_error
    from neuralscope.connectomics.proofreading import apply_merges, merge_suggestions, truth_answers

    table = merge_suggestions(seg, boundary_to_affinities(boundary.transform(raw)), top=answered)
    accepted = truth_answers(table, seg, truth)
    after = adapted_rand_error(apply_merges(seg, table[["segment_a", "segment_b"]].to_numpy()[accepted]), truth)
    section.add_table(
        f"Merge suggestions for proofreading (priority = size_a x size_b x mean contact affinity; the first "
        f"{min(shown, len(table))} of {len(table)}). Answered from the truth: {int(accepted.sum())} of the "
        f"{len(table)} suggestions are true merges; applied, they take ARAND from {arand:.3f} to {after:.3f}",
        ["segments", "voxels", "contact faces", "mean affinity", "inspect at (z, y, x)", "truth: merge?"],
        [[f"{r.segment_a} + {r.segment_b}", f"{r.size_a:,} + {r.size_b:,}", int(r.contact_faces),
          f"{r.mean_affinity:.2f}", f"({r.z}, {r.y}, {r.x})", "yes" if ok else "no"]
         for r, ok in zip(table.head(shown).itertuples(), accepted[:shown])])
    return {"proofreading_suggestions": len(table), "proofreading_merges_accepted": int(accepted.sum()),
            "proofreading_adapted_rand_error": float(after)}


#: Crops for the flood-filling network (a few thousand voxels/s on one CPU core, two seed orders).
FFN_CROP_QUICK = (16, 40, 40)
FFN_CROP_FULL = (24, 64, 64)


def _centre_crop(shape: tuple[int, ...], crop: tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(slice((n - min(c, n)) // 2, (n - min(c, n)) // 2 + min(c, n)) for n, c in zip(shape, crop))


def _ffn_section(raw: np.ndarray, truth: np.ndarray, quick: bool,
                 say: Callable[[str], None]) -> tuple[Section, dict]:
    """The flood-filling network on a crop of the simulated volume, next to the affinity pipelines."""
    from neuralscope.connectomics.ffn_segment import segment_ffn_volume
    from neuralscope.connectomics.metrics import evaluate_segmentation
    from neuralscope.connectomics.pipeline import segment_volume, unet_available

    box = _centre_crop(raw.shape, FFN_CROP_QUICK if quick else FFN_CROP_FULL)
    raw_crop, truth_crop = np.ascontiguousarray(raw[box]), np.ascontiguousarray(truth[box])
    shape = raw_crop.shape
    n_voxels = int(np.prod(shape))
    runs: dict[str, tuple[np.ndarray, float, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        say(f"connectomics: flood-filling network on a {shape} crop")
        t0 = time.perf_counter()
        result, ffn_info = segment_ffn_volume(raw_crop, Path(tmp) / "ffn.zarr")
        runs["FFN"] = (result.load(), time.perf_counter() - t0, ffn_info)
        others = (["unet"] if unet_available() else []) + ["classical"]
        for name in others:
            say(f"connectomics: {name} affinity pipeline on the same crop")
            t0 = time.perf_counter()
            result, info = segment_volume(raw_crop, Path(tmp) / f"{name}.zarr", model=name)
            runs["U-Net" if name == "unet" else "classical"] = (result.load(), time.perf_counter() - t0, info)
    scores = {name: evaluate_segmentation(seg, truth_crop) for name, (seg, _, _) in runs.items()}
    ffn_seg = runs["FFN"][0]
    metrics: dict = {"crop_shape": list(shape), "crop_origin": [s.start for s in box],
                     "ffn_weights_step": ffn_info.get("weights_step"), "ffn_consensus": ffn_info.get("consensus"),
                     "ffn_segmented_fraction": ffn_info["segmented_fraction"]}
    rows = []
    for name, (seg, seconds, _) in runs.items():
        sc = scores[name]
        key = name.lower().replace("-", "")
        metrics.update({f"{key}_vi_split": sc.vi_split, f"{key}_vi_merge": sc.vi_merge,
                        f"{key}_adapted_rand_error": sc.adapted_rand_error, f"{key}_seconds": seconds,
                        f"{key}_n_segments": int(len(np.unique(seg[seg > 0])))})
        rows.append([name, f"{sc.vi_split:.3f}", f"{sc.vi_merge:.3f}", f"{sc.adapted_rand_error:.3f}",
                     metrics[f"{key}_n_segments"], f"{seconds:.1f}", f"{n_voxels / seconds:,.0f}"])
    reference = "U-Net" if "U-Net" in runs else "classical"
    section = Section(
        "Map the connections: flood-filling network (FFN)", key="connectomics-ffn",
        intro=("The flood-filling network of neuralscope.connectomics.ffn (one object at a time: seed placement, "
               "field-of-view moves where the object reaches a face, iterative mask inference, two seed orders "
               "combined by consensus), run as `neuralscope connectome segment --model ffn` runs it, on a crop of "
               "the simulated volume above, next to the affinity pipelines on the same crop. Honest caveat: the "
               f"shipped FFN weights are undertrained (step {ffn_info.get('weights_step')}, about 50 CPU-minutes) and "
               "were trained on FIB-25 (real FIB-SEM of the fly medulla); these simulated volumes are a different "
               "domain, so the FFN scores below are poor and are reported as they are. Unsegmented voxels (id 0) "
               "count as one segment in the scores, so leaving voxels out is not free."),
    )
    sc_ffn, sc_ref = scores["FFN"], scores[reference]
    section.add_figure(
        "ffn_slices", _slices_figure(raw_crop, truth_crop, {name: seg for name, (seg, _, _) in runs.items()},
                                     shape[0] // 2, "simulated EM crop", panel_width=3.3),
        caption=(f"{shape[0]} x {shape[1]} x {shape[2]} voxel crop; FFN segmented "
                 f"{100 * metrics['ffn_segmented_fraction']:.0f} % of the voxels in {runs['FFN'][1]:.1f} s "
                 f"({n_voxels / runs['FFN'][1]:,.0f} voxels/s on this machine). Colours are arbitrary per id."),
        score=(f"FFN: VI split {sc_ffn.vi_split:.3f}, merge {sc_ffn.vi_merge:.3f}, ARAND {sc_ffn.adapted_rand_error:.3f}; "
               f"{reference}: VI split {sc_ref.vi_split:.3f}, merge {sc_ref.vi_merge:.3f}, "
               f"ARAND {sc_ref.adapted_rand_error:.3f} (same crop, same truth)"),
    )
    section.add_table("Same crop, same ground truth (VI in bits; lower is better)",
                      ["model", "VI split", "VI merge", "ARAND", "segments", "seconds", "voxels/s"], rows)
    return section, metrics


def _dominant_truth(seg: np.ndarray, truth: np.ndarray) -> dict[int, int]:
    """Each segment's majority true object."""
    import pandas as pd

    table = pd.DataFrame({"s": seg.ravel(), "t": truth.ravel()}).value_counts().reset_index(name="n")
    best = table.sort_values("n", ascending=False).drop_duplicates("s")
    return dict(zip(best["s"].astype(int), best["t"].astype(int)))
