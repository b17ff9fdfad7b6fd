"""`neuralscope connectome segment` / `synapses`: the JSON contract, outputs, bad input -> exit 2."""

import json

import numpy as np
import pytest

from neuralscope.cli.main import main
from neuralscope.datasets.em import simulate_em_volume


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def em(tmp_path_factory):
    folder = tmp_path_factory.mktemp("em")
    vol = simulate_em_volume((24, 64, 64), n_synapses=15, random_state=0)
    np.save(folder / "raw.npy", vol.raw)
    np.save(folder / "truth.npy", vol.labels)
    vol.synapses.to_csv(folder / "synapses.csv", index=False)
    return folder, vol


def test_segment_json_contract_and_zarr(em, tmp_path, capsys):
    import zarr

    folder, vol = em
    out = tmp_path / "out"
    code, stdout, err = _run(["-q", "connectome", "segment", str(folder / "raw.npy"), "--out", str(out),
                              "--truth", str(folder / "truth.npy"), "--model", "classical", "--json"], capsys)
    assert code == 0, err
    res = json.loads(stdout)
    for key in ("voxels_per_second", "n_segments", "vi_split", "vi_merge", "adapted_rand_error"):
        assert key in res
    assert res["voxels_per_second"] > 0 and res["n_segments"] > 10
    assert res["adapted_rand_error"] < 0.4
    seg = zarr.open_array(str(out / "segmentation.zarr"), mode="r")
    assert seg.dtype == np.uint64 and seg.shape == vol.raw.shape
    assert int(np.max(seg[...])) == res["n_segments"]
    assert json.loads((out / "metrics.json").read_text())["n_segments"] == res["n_segments"]
    assert (out / "split_objects.csv").exists() and (out / "merge_objects.csv").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_merge_suggestions_file(em, tmp_path, capsys):
    import pandas as pd
    import zarr

    from neuralscope.connectomics.metrics import adapted_rand_error
    from neuralscope.connectomics.proofreading import apply_merges

    folder, vol = em
    out = tmp_path / "out"
    code, stdout, err = _run(["-q", "connectome", "segment", str(folder / "raw.npy"), "--out", str(out), "--truth",
                              str(folder / "truth.npy"), "--model", "classical", "--block", "12,32,32",
                              "--suggestions", "20", "--json"], capsys)
    assert code == 0, err
    res = json.loads(stdout)
    table = pd.read_csv(out / "merge_suggestions.csv")
    assert res["n_suggestions"] == len(table) == 20
    assert {"segment_a", "segment_b", "priority", "z", "y", "x", "truth_merge"} <= set(table.columns)
    assert table["priority"].is_monotonic_decreasing and (table["segment_a"] < table["segment_b"]).all()
    seg = zarr.open_array(str(out / "segmentation.zarr"), mode="r")[...]
    here = seg[tuple(table.loc[0, ["z", "y", "x"]])]
    assert here in (table.loc[0, "segment_a"], table.loc[0, "segment_b"])  # the voxel to inspect is on the contact
    # the truth's answers to the suggestions, applied, do not make this volume's ARAND worse
    accepted = table.loc[table["truth_merge"], ["segment_a", "segment_b"]].to_numpy()
    assert adapted_rand_error(apply_merges(seg, accepted), vol.labels) <= res["adapted_rand_error"] + 1e-12
    assert sorted(p.name for p in out.iterdir()) == ["merge_objects.csv", "merge_suggestions.csv", "metrics.json",
                                                     "segmentation.zarr", "split_objects.csv"]  # kept affinities removed


def test_merge_command_applies_the_answers(em, tmp_path, capsys):
    import pandas as pd
    import zarr

    from neuralscope.connectomics.proofreading import apply_merges

    folder, _ = em
    seg_dir = tmp_path / "seg"
    code, _, err = _run(["-q", "connectome", "segment", str(folder / "raw.npy"), "--out", str(seg_dir), "--truth",
                         str(folder / "truth.npy"), "--model", "classical", "--suggestions", "20"], capsys)
    assert code == 0, err
    table = pd.read_csv(seg_dir / "merge_suggestions.csv")
    # a proofreader's answers: yes to rows 0, 2 and 5 (written in several spellings), no elsewhere
    table["accept"] = ["no"] * len(table)
    table.loc[[0, 2, 5], "accept"] = ["yes", "True", "1"]
    table.to_csv(tmp_path / "answers.csv", index=False)
    seg = zarr.open_array(str(seg_dir / "segmentation.zarr"), mode="r")[...]
    before = (seg_dir / "segmentation.zarr").stat().st_mtime_ns
    code, stdout, err = _run(["-q", "connectome", "merge", str(seg_dir / "segmentation.zarr"), "--pairs",
                              str(tmp_path / "answers.csv"), "--out", str(tmp_path / "merged"), "--json"], capsys)
    assert code == 0, err
    res = json.loads(stdout)
    merged = zarr.open_array(str(tmp_path / "merged" / "segmentation.zarr"), mode="r")[...]
    accepted = table.loc[[0, 2, 5], ["segment_a", "segment_b"]].to_numpy()
    np.testing.assert_array_equal(merged, apply_merges(seg, accepted))
    assert res["n_pairs"] == 3 and res["n_segments_before"] == len(np.unique(seg[seg > 0]))
    assert res["n_segments"] == len(np.unique(merged[merged > 0])) < res["n_segments_before"]
    # the truth's own answers (the --truth column) are read the same way
    code, stdout, err = _run(["-q", "connectome", "merge", str(seg_dir / "segmentation.zarr"), "--pairs",
                              str(seg_dir / "merge_suggestions.csv"), "--column", "truth_merge", "--out",
                              str(tmp_path / "truth-merged"), "--json"], capsys)
    assert code == 0 and json.loads(stdout)["n_pairs"] == int(table["truth_merge"].sum()), err
    assert (seg_dir / "segmentation.zarr").stat().st_mtime_ns == before  # the input is left alone
    # without an answer column every row is merged; bad answers, unknown ids -> one line, exit 2
    table[["segment_a", "segment_b"]].head(3).to_csv(tmp_path / "all.csv", index=False)
    code, stdout, err = _run(["-q", "connectome", "merge", str(seg_dir / "segmentation.zarr"), "--pairs",
                              str(tmp_path / "all.csv"), "--out", str(tmp_path / "all"), "--json"], capsys)
    assert code == 0 and json.loads(stdout)["n_pairs"] == 3, err
    bad = {"answers": table.assign(accept="maybe"), "unknown id": pd.DataFrame({"segment_a": [1], "segment_b": [10**9]}),
           "columns": pd.DataFrame({"a": [1], "b": [2]}), "background": pd.DataFrame({"segment_a": [0], "segment_b": [2]})}
    for name, frame in bad.items():
        frame.to_csv(tmp_path / "bad.csv", index=False)
        code, stdout, err = _run(["-q", "connectome", "merge", str(seg_dir / "segmentation.zarr"), "--pairs",
                                  str(tmp_path / "bad.csv"), "--out", str(tmp_path / "bad"), "--json"], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and stdout == "", (name, err)
        assert not (tmp_path / "bad").exists(), name
    np.save(tmp_path / "float.npy", seg.astype(np.float32))
    code, _, err = _run(["-q", "connectome", "merge", str(tmp_path / "float.npy"), "--pairs", str(tmp_path / "all.csv"),
                         "--out", str(tmp_path / "bad")], capsys)
    assert code == 2 and "integer" in err and not (tmp_path / "bad").exists(), err


def test_blockwise_cli_gives_the_same_scores(em, tmp_path, capsys):
    folder, _ = em
    base = ["-q", "connectome", "segment", str(folder / "raw.npy"), "--truth", str(folder / "truth.npy"),
            "--model", "classical", "--json"]
    one = json.loads(_run(base + ["--out", str(tmp_path / "a")], capsys)[1])
    many = json.loads(_run(base + ["--out", str(tmp_path / "b"), "--block", "12,32,32"], capsys)[1])
    assert many["n_blocks"] == 8 and one["n_blocks"] == 1
    assert abs(many["adapted_rand_error"] - one["adapted_rand_error"]) < 0.05


def test_synapses_command(em, tmp_path, capsys):
    import pandas as pd

    folder, _ = em
    code, stdout, err = _run(["-q", "connectome", "synapses", str(folder / "raw.npy"), "--segmentation",
                              str(folder / "truth.npy"), "--truth", str(folder / "synapses.csv"), "--detector",
                              "classical", "--out", str(tmp_path / "s"), "--json"], capsys)
    assert code == 0, err
    res = json.loads(stdout)
    assert res["detector"] == "classical" and res["recall"] > 0.7 and res["precision"] > 0.7
    edges = pd.read_csv(tmp_path / "s" / "edges.csv")
    assert list(edges.columns) == ["pre", "post", "weight"] and edges["weight"].sum() == res["n_assigned"]


def test_synapses_auto_detector_follows_anisotropy(em, tmp_path, capsys):
    from neuralscope.connectomics.commands import _network_detector_available

    folder, _ = em
    base = ["-q", "connectome", "synapses", str(folder / "raw.npy"), "--segmentation", str(folder / "truth.npy"),
            "--json"]
    code, stdout, err = _run(base + ["--out", str(tmp_path / "iso")], capsys)
    assert code == 0, err
    assert json.loads(stdout)["detector"] == "classical"  # isotropic: the per-section network is not used
    code, stdout, err = _run(base + ["--anisotropy", "5", "--out", str(tmp_path / "aniso")], capsys)
    assert code == 0, err
    assert json.loads(stdout)["detector"] == ("network" if _network_detector_available() else "classical")


def _bad_inputs(folder, tmp_path):
    from neuralscope.connectomics.volumes import write_zarr

    np.save(tmp_path / "small_truth.npy", np.ones((4, 4, 4), np.uint64))
    np.save(tmp_path / "float_truth.npy", np.ones((24, 64, 64), np.float32))
    np.save(tmp_path / "empty.npy", np.zeros((0, 64, 64), np.uint8))
    corrupt = write_zarr(np.load(folder / "raw.npy"), tmp_path / "corrupt.zarr", chunks=(8, 32, 32))
    chunk = next(p for p in sorted(corrupt.rglob("*")) if p.is_file() and p.name != "zarr.json")
    chunk.write_bytes(b"\x00 not a chunk")
    raw = str(folder / "raw.npy")
    return {
        "shape mismatch": [raw, "--truth", str(tmp_path / "small_truth.npy")],
        "non-integer labels": [raw, "--truth", str(tmp_path / "float_truth.npy")],
        "empty volume": [str(tmp_path / "empty.npy")],
        "unreadable chunk": [str(corrupt)],
        "missing file": [str(tmp_path / "nope.zarr")],
        "bad block": [raw, "--block", "0,4,4"],
        "bad model": [raw, "--model", "deep-magic"],
        "zero suggestions": [raw, "--suggestions", "0"],
        "suggestions with mutex": [raw, "--suggestions", "5", "--method", "mutex"],
    }


def test_bad_input_one_line_exit_2_nothing_written(em, tmp_path, capsys):
    folder, _ = em
    for name, args in _bad_inputs(folder, tmp_path).items():
        out = tmp_path / f"out-{name.replace(' ', '-')}"
        code, stdout, err = _run(["-q", "connectome", "segment", *args, "--out", str(out), "--model", "classical",
                                  "--json"] if "--model" not in args else ["-q", "connectome", "segment", *args,
                                                                            "--out", str(out), "--json"], capsys)
        assert code == 2, (name, err)
        assert len(err.strip().splitlines()) == 1, (name, err)
        assert "Traceback" not in err and stdout == ""
        assert not out.exists(), name
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_unet_default_is_exact_blockwise(em, tmp_path, capsys):
    import zarr

    from neuralscope.connectomics.pipeline import unet_available

    if not unet_available():
        pytest.skip("the U-Net weights are not installed")
    folder, _ = em
    base = ["-q", "connectome", "segment", str(folder / "raw.npy"), "--model", "unet", "--json"]
    code, stdout, err = _run(base + ["--out", str(tmp_path / "a"), "--block", "24,64,64"], capsys)
    assert code == 0, err
    one = json.loads(stdout)
    many = json.loads(_run(base + ["--out", str(tmp_path / "b"), "--block", "7,20,33", "--workers", "2"], capsys)[1])
    assert one["exact"] is True and one["n_blocks"] == 1 and many["n_blocks"] == 4 * 4 * 2
    assert many["n_segments"] == one["n_segments"]
    a = zarr.open_array(str(tmp_path / "a" / "segmentation.zarr"), mode="r")[...]
    b = zarr.open_array(str(tmp_path / "b" / "segmentation.zarr"), mode="r")[...]
    np.testing.assert_array_equal(a, b)
    # bfloat16 network passes: still one result whatever the blocks.
    fast = base + ["--precision", "bfloat16"]
    c1 = json.loads(_run(fast + ["--out", str(tmp_path / "c1"), "--block", "24,64,64"], capsys)[1])
    c2 = json.loads(_run(fast + ["--out", str(tmp_path / "c2"), "--block", "7,20,33"], capsys)[1])
    from neuralscope.connectomics.networks.affinities import effective_precision, load_affinity_model

    # The CLI reports the arithmetic really used: bfloat16 falls back to float32 on a CPU without it.
    tuned = load_affinity_model()[1].get("agglomeration", {})
    assert c1["precision"] == c2["precision"] == effective_precision("bfloat16", "cpu")
    assert one["precision"] == effective_precision(tuned.get("precision", "float32"), "cpu")
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "c1" / "segmentation.zarr"), mode="r")[...],
                                  zarr.open_array(str(tmp_path / "c2" / "segmentation.zarr"), mode="r")[...])
    code, stdout, err = _run(base + ["--out", str(tmp_path / "d"), "--precision", "float16"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and not (tmp_path / "d").exists()


def test_weights_option_uses_the_given_file(em, tmp_path, capsys):
    import shutil

    import torch
    import zarr

    from neuralscope.connectomics.networks.affinities import DEFAULT_WEIGHTS
    from neuralscope.connectomics.pipeline import unet_available

    if not unet_available():
        pytest.skip("the U-Net weights are not installed")
    folder, _ = em
    base = ["-q", "connectome", "segment", str(folder / "raw.npy"), "--json"]
    copy = tmp_path / "copy.pt"
    shutil.copy(DEFAULT_WEIGHTS, copy)
    shipped = json.loads(_run(base + ["--out", str(tmp_path / "a"), "--model", "unet"], capsys)[1])
    given = json.loads(_run(base + ["--out", str(tmp_path / "b"), "--weights", str(copy)], capsys)[1])
    assert given["model"] == "unet" and given["weights"] == str(copy) and shipped["weights"] == "shipped"
    a = zarr.open_array(str(tmp_path / "a" / "segmentation.zarr"), mode="r")[...]
    b = zarr.open_array(str(tmp_path / "b" / "segmentation.zarr"), mode="r")[...]
    np.testing.assert_array_equal(a, b)
    # Other weights really are used: zeroed output bias and weights -> affinity 0.5 everywhere.
    state = torch.load(copy, weights_only=True)
    flat_head = lambda sd: {k: torch.zeros_like(v) if k.startswith("head.") else v for k, v in sd.items()}  # noqa: E731
    if "members" in state:
        state["members"] = [flat_head(sd) for sd in state["members"]]
    else:
        state["state_dict"] = flat_head(state["state_dict"])
    torch.save(state, tmp_path / "flat.pt")
    flat = json.loads(_run(base + ["--out", str(tmp_path / "c"), "--weights", str(tmp_path / "flat.pt")], capsys)[1])
    assert flat["n_segments"] != shipped["n_segments"]

    (tmp_path / "junk.pt").write_bytes(b"not a weights file")
    for args in (["--weights", str(tmp_path / "missing.pt")], ["--weights", str(tmp_path / "junk.pt")],
                 ["--weights", str(copy), "--model", "classical"]):
        out = tmp_path / "bad"
        code, stdout, err = _run(base + ["--out", str(out), *args], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (args, err)
        assert stdout == "" and not out.exists()


def test_synapses_network_downsample_option(em, tmp_path, capsys):
    from neuralscope.connectomics.commands import _network_detector_available

    if not _network_detector_available():
        pytest.skip("the synapse network's weights are not installed")
    folder, _ = em
    base = ["-q", "connectome", "synapses", str(folder / "raw.npy"), "--segmentation", str(folder / "truth.npy"),
            "--truth", str(folder / "synapses.csv"), "--json"]
    code, stdout, err = _run(base + ["--detector", "network", "--downsample", "1", "--out", str(tmp_path / "n")],
                             capsys)
    assert code == 0, err
    res = json.loads(stdout)
    # Isotropic volume, synapses ~3 voxels across: the network at full resolution finds them.
    assert res["detector"] == "network" and res["downsample"] == 1
    assert res["recall"] >= 0.6 and res["precision"] >= 0.6, res
    for args in (["--detector", "network", "--downsample", "0"], ["--detector", "classical", "--downsample", "2"]):
        out = tmp_path / "bad"
        code, stdout, err = _run(base + [*args, "--out", str(out)], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and stdout == "" and not out.exists(), (args, err)
