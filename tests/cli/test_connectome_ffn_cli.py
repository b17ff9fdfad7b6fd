"""`neuralscope connectome segment --model ffn`: same JSON contract and outputs as the other models,
the same partition as the library call, block-wise runs (--block, --halo, --scheduler, --workers),
one-line errors for options that do not apply and for volumes or blocks over the documented limit."""

import json

import numpy as np
import pytest

from neuralscope.cli.main import main
from neuralscope.connectomics.ffn_segment import FFN_MAX_VOXELS
from neuralscope.core.errors import NeuralscopeError
from neuralscope.datasets.em import simulate_em_volume


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def em(tmp_path_factory):
    folder = tmp_path_factory.mktemp("em_ffn")
    vol = simulate_em_volume((12, 32, 32), n_synapses=3, random_state=3)
    np.save(folder / "raw.npy", vol.raw)
    np.save(folder / "truth.npy", vol.labels)
    return folder, vol


@pytest.fixture(scope="module")
def ffn_run(em, tmp_path_factory):
    """One CLI run shared by the contract tests (FFN is slow on a CPU)."""
    folder, _ = em
    out = tmp_path_factory.mktemp("ffn_out") / "seg"
    code = main(["-q", "connectome", "segment", str(folder / "raw.npy"), "--out", str(out), "--model", "ffn",
                 "--truth", str(folder / "truth.npy"), "--json"])
    return code, out


def test_ffn_json_contract_zarr_and_metrics(em, ffn_run, capsys):
    import zarr

    _, vol = em
    code, out = ffn_run
    assert code == 0
    res = json.loads((out / "metrics.json").read_text())
    for key in ("voxels_per_second", "n_segments", "vi_split", "vi_merge", "adapted_rand_error"):
        assert isinstance(res[key], (int, float)), key
    assert res["model"] == "ffn" and res["n_blocks"] == 1 and res["voxels_per_second"] > 0
    seg = zarr.open_array(str(out / "segmentation.zarr"), mode="r")[...]
    assert seg.dtype == np.uint64 and seg.shape == vol.raw.shape
    ids = np.unique(seg[seg > 0])
    assert res["n_segments"] == len(ids) >= 1
    np.testing.assert_array_equal(ids, np.arange(1, len(ids) + 1))  # consecutive ids, 0 = unsegmented
    assert res["segmented_fraction"] == pytest.approx(np.count_nonzero(seg) / seg.size)
    assert res["segmented_fraction"] > 0.3
    assert (out / "split_objects.csv").exists() and (out / "merge_objects.csv").exists()


def test_ffn_cli_scores_and_partition_equal_the_library(em, ffn_run):
    import zarr

    from neuralscope.connectomics.ffn import segment_ffn
    from neuralscope.connectomics.metrics import evaluate_segmentation, variation_of_information

    folder, vol = em
    _, out = ffn_run
    res = json.loads((out / "metrics.json").read_text())
    cli_seg = zarr.open_array(str(out / "segmentation.zarr"), mode="r")[...]
    library = segment_ffn(vol.raw)  # shipped weights, their stored settings (consensus included)
    split, merge = variation_of_information(cli_seg, library, ignore_truth=())
    assert split == pytest.approx(0, abs=1e-12) and merge == pytest.approx(0, abs=1e-12)
    np.testing.assert_array_equal(cli_seg == 0, library == 0)
    scores = evaluate_segmentation(library, vol.labels)
    assert res["vi_split"] == pytest.approx(scores.vi_split)
    assert res["vi_merge"] == pytest.approx(scores.vi_merge)
    assert res["adapted_rand_error"] == pytest.approx(scores.adapted_rand_error)


def test_ffn_stdout_is_one_json_object(em, tmp_path, capsys, monkeypatch):
    """--json prints exactly one object; the (mocked, fast) flood filler's ids go to the zarr."""
    from neuralscope.connectomics import ffn_segment

    folder, vol = em
    monkeypatch.setattr(ffn_segment.FFNSegmenter, "__call__", lambda self, raw: vol.labels.astype(np.int64))
    code, stdout, err = _run(["-q", "connectome", "segment", str(folder / "raw.npy"), "--out", str(tmp_path / "o"),
                              "--model", "ffn", "--truth", str(folder / "truth.npy"), "--json"], capsys)
    assert code == 0, err
    res = json.loads(stdout)
    assert res["model"] == "ffn" and res["adapted_rand_error"] == pytest.approx(0.0, abs=1e-12)
    assert res["vi_split"] == pytest.approx(0.0, abs=1e-12) and res["n_segments"] == len(np.unique(vol.labels))


def test_options_that_do_not_apply_and_too_large_volumes_exit_2(em, tmp_path, capsys):
    folder, _ = em
    raw = str(folder / "raw.npy")
    big = tmp_path / "big.npy"
    side = int(np.ceil((FFN_MAX_VOXELS + 1) ** (1 / 3)))
    np.save(big, np.zeros((side, side, side), np.uint8))
    cases = {
        "method": ([raw, "--method", "mutex"], "--method"),
        "halo without block": ([raw, "--halo", "2"], "--halo"),
        "threshold": ([raw, "--threshold", "0.5"], "--threshold"),
        "flips": ([raw, "--test-time-flips", "1"], "--test-time-flips"),
        "anisotropy": ([raw, "--anisotropy", "2"], "--anisotropy"),
        "precision": ([raw, "--precision", "float32"], "--precision"),
        "too large": ([str(big)], "--model unet"),
        # Block-wise, the limit is per block (core + halo): one block of the whole volume is refused.
        "block too large": ([str(big), "--block", str(side)], "per block"),
        "thin halo": ([raw, "--block", "12,16,32", "--halo", "1"], "halo"),
    }
    for name, (args, needle) in cases.items():
        out = tmp_path / f"out-{name.replace(' ', '-')}"
        code, stdout, err = _run(["-q", "connectome", "segment", *args, "--model", "ffn", "--out", str(out), "--json"],
                                 capsys)
        assert code == 2, (name, err)
        assert len(err.strip().splitlines()) == 1 and needle in err, (name, err)
        assert "Traceback" not in err and stdout == "" and not out.exists(), name
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_model_resolution_auto_never_picks_ffn(tmp_path):
    from neuralscope.connectomics.pipeline import ffn_available, resolve_model, segment_volume

    assert ffn_available()
    assert resolve_model("auto", allow_ffn=True) in ("unet", "classical")
    assert resolve_model("ffn", allow_ffn=True) == "ffn"
    with pytest.raises(NeuralscopeError, match="segment_ffn_volume"):
        resolve_model("ffn")  # segment_volume runs the affinity models only
    with pytest.raises(NeuralscopeError):
        segment_volume(np.zeros((4, 8, 8), np.uint8), tmp_path / "unused.zarr", model="ffn")
    assert not (tmp_path / "unused.zarr").exists()


def test_help_states_the_limit(capsys):
    code, stdout, _ = _run(["connectome", "segment", "--help"], capsys)
    assert code == 0
    text = " ".join(stdout.replace("│", " ").split())
    assert "ffn" in text and f"{FFN_MAX_VOXELS:,}" in text


def test_ffn_blockwise_cli(em, tmp_path, capsys):
    """--block (with --scheduler/--workers) passes through: several blocks, stitched, consecutive ids."""
    import zarr

    folder, vol = em
    out = tmp_path / "seg"
    code, stdout, err = _run(["-q", "connectome", "segment", str(folder / "raw.npy"), "--out", str(out),
                              "--model", "ffn", "--block", "12,16,32", "--halo", "8", "--scheduler", "synchronous",
                              "--truth", str(folder / "truth.npy"), "--json"], capsys)
    assert code == 0, err
    res = json.loads(stdout)
    assert res == json.loads((out / "metrics.json").read_text())
    assert res["model"] == "ffn" and res["n_blocks"] == 2 and res["face_merges"] > 0
    assert res["block_shape"] == [12, 16, 32] and res["halo"] == [8, 8, 8]
    seg = zarr.open_array(str(out / "segmentation.zarr"), mode="r")[...]
    assert seg.shape == vol.raw.shape
    ids = np.unique(seg[seg > 0])
    np.testing.assert_array_equal(ids, np.arange(1, len(ids) + 1))
    assert res["n_segments"] == len(ids) and 0 <= res["adapted_rand_error"] <= 1


def test_ffn_method_mutex_still_refused_with_block(em, tmp_path, capsys):
    folder, _ = em
    out = tmp_path / "seg"
    code, stdout, err = _run(["-q", "connectome", "segment", str(folder / "raw.npy"), "--out", str(out),
                              "--model", "ffn", "--block", "12,16,32", "--method", "mutex", "--json"], capsys)
    assert code == 2 and stdout == "" and not out.exists()
    assert len(err.strip().splitlines()) == 1 and "--method" in err and "Traceback" not in err
