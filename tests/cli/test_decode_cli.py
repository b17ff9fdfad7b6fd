"""`neuralscope decode`: the machine-readable contract, bad input, determinism."""

import json
import subprocess
import sys

import numpy as np
import pytest

from neuralscope.cli.main import main


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _trial_npz(path, seed=0, n=80, neurons=12, bins=6):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    X = rng.poisson(3.0, size=(n, neurons, bins)).astype(float)
    X[:, :4] += 3.0 * y[:, None, None]
    np.savez(path, X=X, y=y, fs=10.0)
    return X, y


def test_classification_npz_json_contract(tmp_path, capsys):
    _trial_npz(tmp_path / "d.npz")
    out_dir = tmp_path / "out"
    code, out, err = _run(["-q", "decode", str(tmp_path / "d.npz"), "--models", "linear,svm", "--cv", "4",
                           "--out", str(out_dir), "--json"], capsys)
    assert code == 0, err
    res = json.loads(out)
    assert res["task"] == "classification"
    for name in ("linear", "svm"):
        assert 0.9 <= res["models"][name]["accuracy"] <= 1.0
        assert "balanced_accuracy" in res["models"][name]
    assert json.loads((out_dir / "metrics.json").read_text())["models"] == res["models"]
    assert (out_dir / "report.html").stat().st_size > 1000
    assert list((out_dir / "figures").glob("*.png"))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_regression_npz_uses_history_and_blocks(tmp_path, capsys):
    rng = np.random.default_rng(0)
    t = np.arange(1500) / 20.0
    v = np.stack([np.sin(0.7 * t), np.cos(0.45 * t)], axis=1)
    pd_ = rng.uniform(0, 2 * np.pi, size=30)
    rates = np.exp(0.5 + 0.8 * (v @ np.stack([np.cos(pd_), np.sin(pd_)])))
    X = rng.poisson(rates / 4).astype(float)
    np.savez(tmp_path / "c.npz", X=X, y=v, fs=20.0)
    code, out, err = _run(["-q", "decode", str(tmp_path / "c.npz"), "--models", "wiener,ridge", "--cv", "5",
                           "--history", "5", "--no-extras", "--json"], capsys)
    assert code == 0, err
    res = json.loads(out)
    assert res["task"] == "regression"
    assert len(res["models"]["wiener"]["r2"]) == 2
    assert res["models"]["wiener"]["r2_mean"] > 0.5
    assert res["models"]["wiener"]["r2_mean"] == pytest.approx(np.mean(res["models"]["wiener"]["r2"]))


def test_same_seed_same_metrics(capsys):
    argv = ["-q", "decode", "demo:tuning", "--models", "linear", "--cv", "3", "--no-extras", "--json", "--seed", "7"]
    first = json.loads(_run(argv, capsys)[1])
    second = json.loads(_run(argv, capsys)[1])
    strip = lambda res: {k: {m: v for m, v in d.items() if m != "fit_time_s"} for k, d in res["models"].items()}
    assert strip(first) == strip(second)
    different = json.loads(_run(argv[:-1] + ["8"], capsys)[1])
    assert strip(different) != strip(first)  # the seed is really used


def _bad_inputs(tmp_path):
    good = tmp_path / "good.npz"
    _trial_npz(good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    nan = tmp_path / "nan.npz"
    X, y = _trial_npz(tmp_path / "tmp.npz")
    X[3, 2, 1] = np.nan
    np.savez(nan, X=X, y=y)
    mismatch = tmp_path / "mismatch.npz"
    np.savez(mismatch, X=X[:-5] * 0 + 1, y=y)
    folder = tmp_path / "a_folder"
    folder.mkdir()
    return {
        "truncated": [str(truncated)],
        "nan": [str(nan)],
        "mismatch": [str(mismatch)],
        "directory": [str(folder)],
        "missing": [str(tmp_path / "nope.npz")],
        "unknown_model": [str(good), "--models", "linear,telepathy"],
        "bad_target": ["demo:tuning", "--target", "colour"],
    }


@pytest.mark.parametrize("case", ["truncated", "nan", "mismatch", "directory", "missing", "unknown_model", "bad_target"])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, case):
    args = _bad_inputs(tmp_path)[case]
    out_dir = tmp_path / "out"
    argv = ["decode", *args, "--out", str(out_dir), "--json"]
    if "--models" not in args:
        argv += ["--models", "linear"]
    code, out, err = _run(argv, capsys)
    assert code == 2
    lines = [ln for ln in err.splitlines() if not ln.startswith("[neuralscope]")]
    assert len(lines) == 1 and lines[0].startswith("neuralscope: error:"), err
    assert "Traceback" not in err and out == ""
    assert not out_dir.exists() or not any(out_dir.iterdir())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_console_script_exit_code_and_no_traceback(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "neuralscope.cli.main", "decode", str(folder), "--models", "linear"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "directory" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_usage_error_exits_2(capsys):
    code, out, err = _run(["decode", "demo:tuning", "--cv", "notanumber"], capsys)
    assert code == 2 and err.count("\n") == 1
