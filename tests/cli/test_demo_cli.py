"""`neuralscope demo --quick`: the main job end to end on built-in data."""

import json
import re

from neuralscope.cli.main import main


def test_quick_demo_writes_one_self_contained_report(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["-q", "demo", "--quick", "--out", str(out), "--json"])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    summary = json.loads(stdout)
    sections = summary["capabilities"]["decoding"]["sections"]
    assert len(sections) == 2
    tuning, reaching = sections.values()
    assert tuning["task"] == "classification" and reaching["task"] == "regression"
    assert tuning["models"]["linear"]["accuracy"] >= 0.9
    assert reaching["models"]["wiener"]["r2_mean"] >= 0.8
    html = (out / "report.html").read_text()
    n_sections = sum(len(c["sections"]) for c in summary["capabilities"].values())
    assert html.count("<section") == n_sections >= 4
    assert len(re.findall(r'src="data:image/png;base64,', html)) >= 8
    assert "ρ =" in html  # neuron importance scored against the simulated ground truth
    assert set(json.loads((out / "metrics.json").read_text())["capabilities"]) == {
        "decoding", "manifold", "circuits", "imaging", "spikes", "connectomics", "connectome graph", "design", "closed loop"}
