"""`neuralscope loop run`: the JSON contract, file replay, bad configs."""

import json
import os

import numpy as np
import pytest
import yaml

from neuralscope.cli.main import main

CONTRACT = ("frames", "latency_ms_p50", "latency_ms_p99", "deadline_misses")


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _write(path, cfg):
    path.write_text(yaml.safe_dump(cfg))
    return path


SIM = {
    "seed": 0, "realtime": False, "frames": 90, "calibration_frames": 120,
    "source": {"kind": "simulated", "height": 64, "width": 64, "n_rois": 10, "fs": 30.0},
    "policies": [{"kind": "threshold", "threshold": 0.5, "rois": [0, 1], "combine": "any", "refractory_s": 0.2}],
}


def test_simulated_config_json_contract_and_outputs(tmp_path, capsys):
    cfg = _write(tmp_path / "loop.yaml", SIM)
    out_dir = tmp_path / "out"
    code, out, err = _run(["-q", "loop", "run", str(cfg), "--out", str(out_dir), "--json"], capsys)
    assert code == 0, err
    res = json.loads(out)
    for key in CONTRACT:
        assert key in res
    assert res["frames"] == 90 and isinstance(res["deadline_misses"], int)
    assert 0 < res["latency_ms_p50"] <= res["latency_ms_p99"]
    assert res["ground_truth"]["registration_rmse_px"] < 0.2
    lines = (out_dir / "decisions.jsonl").read_text().splitlines()
    assert len(lines) == res["decisions"]
    with np.load(out_dir / "frames.npz") as z:
        assert z["latency_ms"].shape == (90,) and z["shifts"].shape == (90, 2)
    assert json.loads((out_dir / "metrics.json").read_text())["frames"] == 90
    assert (out_dir / "report.html").stat().st_size > 1000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_file_replay_tiff_with_rois_npz(tmp_path, capsys):
    import tifffile

    from neuralscope.closedloop.rig import SimulatedRig

    rig = SimulatedRig(height=48, width=48, n_rois=6, n_frames=60, seed=4)
    movie = rig.render(60)
    tifffile.imwrite(tmp_path / "movie.tif", movie)
    np.savez(tmp_path / "rois.npz", footprints=rig.footprints.toarray().reshape(6, 48, 48))
    before = (tmp_path / "movie.tif").read_bytes()
    cfg = _write(tmp_path / "replay.yaml", {
        "realtime": False,
        "source": {"kind": "file", "path": "movie.tif", "fs": 30.0, "rois": "rois.npz", "reference_frames": 30},
        "policies": [{"kind": "threshold", "threshold": 0.3, "rois": [0]}],
    })
    code, out, err = _run(["-q", "loop", "run", str(cfg), "--json"], capsys)
    assert code == 0, err
    res = json.loads(out)
    assert res["frames"] == 60 and res["source"]["kind"] == "file"
    assert (tmp_path / "movie.tif").read_bytes() == before  # the user's movie is untouched


def test_frames_option_and_as_fast_as_possible(tmp_path, capsys):
    cfg = _write(tmp_path / "loop.yaml", {**SIM, "realtime": True})
    code, out, err = _run(["-q", "loop", "run", str(cfg), "--frames", "40", "--as-fast-as-possible", "--json"], capsys)
    assert code == 0, err
    res = json.loads(out)
    assert res["frames"] == 40 and res["realtime"] is False


@pytest.mark.parametrize("cfg, needle", [
    ({"source": {"kind": "camera"}}, "config.source.kind"),
    ({**SIM, "policies": [{"kind": "magic"}]}, "policies[0].kind"),
    ({**SIM, "policies": [{"kind": "threshold"}]}, "threshold"),
    ({**SIM, "source": {**SIM["source"], "colour": 3}}, "unknown key"),
    ({**SIM, "unexpected": 1}, "unknown key"),
    ({**SIM, "policies": [{"kind": "decoded-state"}]}, "decoder"),
    ({**SIM, "policies": [{"kind": "bo", "parameters": [{"name": "x", "type": "float", "bounds": [1, 1]}]}]}, "bounds"),
    ({"source": {"kind": "file", "path": "missing.tif", "fs": 30, "rois": "r.npz"}}, "source.path"),
])
def test_bad_config_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, cfg, needle):
    path = _write(tmp_path / "bad.yaml", cfg)
    out_dir = tmp_path / "out"
    code, out, err = _run(["-q", "loop", "run", str(path), "--out", str(out_dir), "--json"], capsys)
    assert code == 2, err
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err
    assert not out_dir.exists()


def test_usage_errors(tmp_path, capsys):
    code, _, err = _run(["loop", "run"], capsys)
    assert code == 2 and "--demo" in err
    (tmp_path / "x.yaml").write_text("source: [unclosed")
    code, _, err = _run(["loop", "run", str(tmp_path / "x.yaml")], capsys)
    assert code == 2 and "YAML" in err
    code, _, err = _run(["loop", "run", str(tmp_path / "nope.yaml")], capsys)
    assert code == 2


@pytest.mark.skipif(os.environ.get("NEURALSCOPE_SLOW_TESTS") != "1", reason="slow: set NEURALSCOPE_SLOW_TESTS=1")
def test_demo_rig_contract(capsys):
    code, out, err = _run(["-q", "loop", "run", "--demo", "--frames", "150", "--as-fast-as-possible", "--json"], capsys)
    assert code == 0, err
    res = json.loads(out)
    assert res["frames"] == 150 and res["source"]["height"] == 512 and res["source"]["n_rois"] == 300
