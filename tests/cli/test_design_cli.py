"""`neuralscope design optimize` / `design rfmap`: the contract, resuming, bad configs, failing objectives."""

import json
import sys

import pytest

from neuralscope.cli.main import main


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _config(tmp_path, text, name="cfg.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_optimize_contract_and_resume(tmp_path, capsys):
    cfg = _config(tmp_path, "objective: branin\nbudget: 14\ninitial: 8\nseed: 0\nstate: st.json\n")
    code, out, err = _run(["-q", "design", "optimize", str(cfg), "--json"], capsys)
    assert code == 0, err
    res = json.loads(out)
    assert set(res) >= {"best_value", "best_params", "n_observations", "seconds_per_suggestion"}
    assert res["n_observations"] == 14 and set(res["best_params"]) == {"x1", "x2"}
    assert res["regret"] == pytest.approx(-0.397887 - res["best_value"])
    saved = json.loads((tmp_path / "st.json").read_text())
    assert len(saved["trials"]) == 14
    # Resuming with a larger budget keeps all 14 and adds 4.
    code, out, err = _run(["-q", "design", "optimize", str(cfg), "--json", "--budget", "18"], capsys)
    assert code == 0, err
    res2 = json.loads(out)
    assert res2["n_observations"] == 18 and res2["resumed_observations"] == 14
    assert res2["best_value"] >= res["best_value"]
    assert json.loads((tmp_path / "st.json").read_text())["trials"][:14] == saved["trials"]


def test_command_objective_nan_and_errors_mark_trials_failed(tmp_path, capsys):
    script = tmp_path / "obj.py"
    # NaN when x > 0.8, a crash when x < 0.1, otherwise a number read from the placeholders.
    script.write_text(
        "import sys, math\n"
        "x = float(sys.argv[1]); k = int(sys.argv[2])\n"
        "if x < 0.1: raise SystemExit('boom')\n"
        "print('nan' if x > 0.8 else -(x - 0.5) ** 2 - 0.01 * k)\n")
    cfg = _config(tmp_path, (
        "parameters:\n"
        "  - {name: x, type: float, bounds: [0, 1]}\n"
        "  - {name: k, type: int, bounds: [0, 3]}\n"
        f"objective: {{command: '{sys.executable} {script} {{x}} {{k}}'}}\n"
        "budget: 14\ninitial: 10\nseed: 1\nstate: s.json\n"))
    code, out, err = _run(["-q", "design", "optimize", str(cfg), "--json"], capsys)
    assert code == 0, err
    res = json.loads(out)
    trials = json.loads((tmp_path / "s.json").read_text())["trials"]
    assert res["n_observations"] == len(trials) == 14
    assert res["n_failed"] == sum(t["status"] == "failed" for t in trials) >= 2
    assert all(t["value"] is None for t in trials if t["status"] == "failed")
    assert 0.1 <= res["best_params"]["x"] <= 0.8 and res["best_value"] <= 0


@pytest.mark.parametrize("text", [
    "parameters: [{name: a, type: complex, bounds: [0, 1]}]\nobjective: {command: 'echo 1'}\nbudget: 3\n",
    "parameters: [{name: a, type: float, bounds: []}]\nobjective: {command: 'echo 1'}\nbudget: 3\n",
    "parameters: [{name: a, type: float, bounds: [0, 1]}]\nobjective: rosenbrock\nbudget: 3\n",
    "objective: branin\nbudget: 0\n",
    "objective: branin\nbudget: 3\ncolour: blue\n",
    "parameters: [{name: a, type: float, bounds: [0, 1]}]\nobjective: hartmann6\nbudget: 3\n",
    "- just\n- a list\n",
])
def test_bad_config_one_line_exit_2(tmp_path, capsys, text):
    cfg = _config(tmp_path, text)
    code, out, err = _run(["design", "optimize", str(cfg), "--json"], capsys)
    assert code == 2 and out == ""
    assert err.startswith("neuralscope: error:") and len(err.strip().splitlines()) == 1


def test_missing_config(tmp_path, capsys):
    code, _, err = _run(["design", "optimize", str(tmp_path / "nope.yaml")], capsys)
    assert code == 2 and "CONFIG" in err


def test_rfmap_demo_json_and_out(tmp_path, capsys):
    out_dir = tmp_path / "rf"
    code, out, err = _run(["-q", "design", "rfmap", "--demo", "--trials", "40", "--neurons", "1",
                           "--strategies", "active,random", "--json", "--out", str(out_dir)], capsys)
    assert code == 0, err
    res = json.loads(out)
    assert set(res["trials_to_target"]) == {"active", "random"}
    assert res["checkpoints"][-1] == 40 and len(res["errors"]["active"][0]) == 4
    assert json.loads((out_dir / "metrics.json").read_text())["final_error_median"] == res["final_error_median"]
    assert (out_dir / "report.html").stat().st_size > 1000 and list((out_dir / "figures").glob("*.png"))


def test_rfmap_requires_demo_and_valid_options(capsys):
    code, _, err = _run(["design", "rfmap"], capsys)
    assert code == 2 and "--demo" in err
    code, _, err = _run(["design", "rfmap", "--demo", "--strategies", "psychic"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
