"""`neuralscope connectome stats`: the JSON contract, the --out artefacts and one-line errors."""

import json

import numpy as np
import pandas as pd
import pytest

from neuralscope.cli.main import main


def _edges(path, rows=None):
    rows = rows or {"pre": [1, 2, 2, 3, 3, 1, 4], "post": [2, 1, 3, 1, 4, 3, 1], "weight": [3, 1, 2, 5, 1, 1, 2]}
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_json_contract(tmp_path, capsys):
    code = main(["-q", "connectome", "stats", str(_edges(tmp_path / "e.csv")), "--json"])
    assert code == 0
    res = json.loads(capsys.readouterr().out.strip())
    for key, typ in [("n_neurons", int), ("n_edges", int), ("n_synapses", int), ("reciprocity", float), ("seconds", float)]:
        assert isinstance(res[key], typ), key
    assert res["n_neurons"] == 4 and res["n_edges"] == 7 and res["n_synapses"] == 15
    # Pairs 1<->2 and 1<->3 are reciprocal: 4 of the 7 edges have a reverse edge.
    assert res["reciprocity"] == pytest.approx(4 / 7)
    assert res["weighted_reciprocity"] == pytest.approx((1 + 1 + 1 + 1) / 15)
    assert res["motifs"]["triads_exact"] and res["motifs"]["null_samples"] == 3
    assert res["communities"]["n_communities"] >= 1 and res["seconds"] >= res["analysis_seconds"]


@pytest.mark.parametrize("columns", [
    {"pre_root_id": [11, 12, 12], "post_root_id": [12, 11, 13], "syn_count": [4, 4, 1], "neuropil": ["A", "B", "A"]},
    {"bodyId_pre": [11, 12, 12], "bodyId_post": [12, 11, 13], "weight": [4, 4, 1], "roi": ["A", "B", "A"]},
    {"Source": ["a", "b", "b"], "Target": ["b", "a", "c"], "Weight": [4, 4, 1], "Type": ["chemical"] * 3},
])
def test_flywire_neuprint_celegans_names_recognised(tmp_path, capsys, columns):
    path = tmp_path / "t.parquet"
    pd.DataFrame(columns).to_parquet(path)
    assert main(["-q", "connectome", "stats", str(path), "--json", "--null", "0"]) == 0
    res = json.loads(capsys.readouterr().out.strip())
    assert (res["n_neurons"], res["n_edges"], res["n_synapses"]) == (3, 3, 9)
    assert res["reciprocity"] == pytest.approx(2 / 3)


def test_out_folder_and_same_seed_same_numbers(tmp_path, capsys):
    rng = np.random.default_rng(0)
    edges = {"pre": rng.integers(0, 60, 400), "post": rng.integers(0, 60, 400), "count": rng.integers(1, 9, 400)}
    src = _edges(tmp_path / "e.csv", edges)
    neurons = pd.DataFrame({"cell_type": np.where(np.arange(60) < 30, "A", "B")}, index=pd.Index(np.arange(60), name="id"))
    neurons.to_csv(tmp_path / "neurons.csv")
    out = tmp_path / "o"
    args = ["-q", "connectome", "stats", str(src), "--neurons", str(tmp_path / "neurons.csv"), "--json", "--seed", "3",
            "--sources", "0,1", "--hops", "2"]
    assert main([*args, "--out", str(out), "--save-store"]) == 0
    first = json.loads(capsys.readouterr().out.strip())
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out.strip())
    for key in ("motifs", "communities", "blocks", "reach"):
        assert first[key] == second[key], key
    assert first["blocks"]["by"] == "cell_type" and first["blocks"]["groups"] == ["A", "B"]
    names = {p.name for p in out.iterdir()}
    assert {"metrics.json", "report.html", "figures", "degrees.csv", "communities.csv", "motifs.csv",
            "blocks_synapses.csv", "store"} <= names
    assert len(list((out / "figures").glob("*.png"))) == 4
    assert json.loads((out / "metrics.json").read_text())["n_edges"] == first["n_edges"]
    assert main(["-q", "connectome", "stats", str(out / "store"), "--json", "--no-motifs", "--no-communities"]) == 0
    assert json.loads(capsys.readouterr().out.strip())["n_edges"] == first["n_edges"]


def test_demo_celegans(capsys):
    assert main(["-q", "connectome", "stats", "demo:celegans", "--json", "--null", "2", "--no-communities"]) == 0
    res = json.loads(capsys.readouterr().out.strip())
    assert res["n_neurons"] == 300 and res["blocks"]["by"] == "group"


@pytest.mark.parametrize("make, extra, expect", [
    (lambda p: p.write_text("pre,post\n1,2\n"), [], "count"),
    (lambda p: p.write_text("pre,post,count\n1,2,-3\n"), [], "non-negative"),
    (lambda p: p.write_text("pre_root_id,post_root_id,syn_count\n"), [], "at least one edge"),
    (lambda p: p.write_bytes(b"\x00\x01 not a table"), [], "readable"),
    (lambda p: p.write_text("pre,post,count\n1,2,3\n"), ["--labels", "nope"], "--labels"),
    (lambda p: p.write_text("pre,post,count\n1,2,3\n"), ["--null", "-1"], "--null"),
    (lambda p: p.write_text("pre,post,count\n1,2,3\n"), ["--sources", "99"], "sources"),
    (lambda p: p.write_text("pre,post,count\n1,1,3\n"), [], "chemical edge"),
])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, make, extra, expect):
    path = tmp_path / "bad.parquet"
    make(path)
    if not path.read_bytes().startswith(b"\x00"):
        path = path.rename(tmp_path / "bad.csv")
    out = tmp_path / "out"
    code = main(["-q", "connectome", "stats", str(path), "--json", "--out", str(out), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and expect in err[0], err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_missing_file_and_out_is_a_file(tmp_path, capsys):
    assert main(["-q", "connectome", "stats", str(tmp_path / "nope.csv")]) == 2
    src = _edges(tmp_path / "e.csv")
    (tmp_path / "f").write_text("x")
    assert main(["-q", "connectome", "stats", str(src), "--out", str(tmp_path / "f")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 2
