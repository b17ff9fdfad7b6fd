"""`neuralscope simulate`: the machine-readable contract and one-line errors on bad input."""

import json

import numpy as np
import pandas as pd
import pytest

from neuralscope.cli.simulate import (
    parse_activation,
    parse_duration,
    run_simulate_command,
)
from neuralscope.core.errors import NeuralscopeError


def _chain_csv(path):
    pd.DataFrame({"pre": [10, 11, 11], "post": [11, 12, 13], "count": [120, 120, 40],
                  "sign": [1, 1, -1]}).to_csv(path, index=False)
    return path


def _run(tmp_path, **kw):
    args = {"connectome": str(_chain_csv(tmp_path / "edges.csv")), "preset": "flywire-lif", "activate": ["10@150"],
                "silence": None, "report": "11,12", "duration": "0.3s", "trials": 4, "seed": 0, "out": None, "as_json": True,
                "verbose": 0, "quiet": True}
    args.update(kw)
    return run_simulate_command(**args)


def test_json_contract_and_spikes_parquet(tmp_path, capsys):
    out = tmp_path / "run"
    res = _run(tmp_path, out=out)
    printed = json.loads(capsys.readouterr().out.strip())
    assert printed == json.loads(json.dumps(res))
    for key, typ in [("wall_seconds", float), ("trials", int), ("neurons", int), ("mean_rate_hz", float),
                     ("rates_hz", dict)]:
        assert isinstance(printed[key], typ)
    assert printed["trials"] == 4 and printed["neurons"] == 4
    assert set(printed["rates_hz"]) == {"11", "12"}
    assert printed["rates_hz"]["11"] > 20 and printed["rates_hz"]["12"] > 5
    spikes = pd.read_parquet(out / "spikes.parquet")
    assert list(spikes.columns) == ["t", "trial", "neuron"]
    assert set(spikes.trial) <= {0, 1, 2, 3} and spikes.t.between(0, 0.3).all()
    per_trial = spikes[spikes.neuron == 11].groupby("trial").size().reindex(range(4), fill_value=0)
    assert per_trial.mean() / 0.3 == pytest.approx(printed["rates_hz"]["11"])
    assert printed["mean_rate_hz"] == pytest.approx(len(spikes) / (4 * 4 * 0.3))
    assert {"raster.png", "rates.png", "rates.csv", "summary.json"} <= {p.name for p in out.iterdir()}
    again = _run(tmp_path)
    assert again["rates_hz"] == res["rates_hz"]  # same seed, same numbers


def test_silence_writes_the_perturbation_comparison(tmp_path):
    res = _run(tmp_path, silence="11", out=tmp_path / "o")
    assert res["rates_hz"]["12"] == 0.0 and res["control"]["rates_hz"]["12"] > 5
    assert res["difference_hz"]["12"] == pytest.approx(-res["control"]["rates_hz"]["12"])
    comp = pd.read_csv(tmp_path / "o" / "comparison.csv", index_col=0)
    assert comp.loc[12, "difference_hz"] < 0
    assert (tmp_path / "o" / "effect.png").exists() and (tmp_path / "o" / "control_spikes.parquet").exists()


def test_builtin_worm_and_flywire_parquet(tmp_path):
    res = run_simulate_command(connectome="demo:celegans", preset="celegans-lif", activate="ALML,ALMR@100Hz",
                               report="ALML", duration="200ms", trials=2, seed=1, out=None, as_json=False,
                               verbose=0, quiet=True)
    assert res["neurons"] == 300 and res["rates_hz"]["ALML"] > 50
    ids = np.arange(720575940600000000, 720575940600000004)
    pd.DataFrame({"Presynaptic_Index": [0, 1], "Postsynaptic_Index": [1, 2], "Connectivity": [120, 120],
                  "Excitatory": [1, 1], "Excitatory x Connectivity": [120, 120]}).to_parquet(tmp_path / "fw.parquet")
    pd.DataFrame({"Completed": [True] * 4}, index=ids).to_csv(tmp_path / "comp.csv")
    res = run_simulate_command(connectome=str(tmp_path / "fw.parquet"), neurons=str(tmp_path / "comp.csv"),
                               activate=[f"{ids[0]}@200"], report=f"{ids[2]},{ids[3]}", duration=0.3, trials=3,
                               as_json=True, quiet=True)
    assert res["rates_hz"][str(ids[2])] > 10 and res["rates_hz"][str(ids[3])] == 0.0


@pytest.mark.parametrize("kwargs, match", [
    ({"activate": ["99@150"]}, "--activate: expected neuron ids"),
    ({"silence": "10,zz"}, "--silence"),
    ({"report": "42"}, "--report"),
    ({"duration": "0s"}, "--duration"),
    ({"duration": "-1"}, "--duration"),
    ({"duration": "soon"}, "--duration"),
    ({"dt": 3e-3}, "dt: expected a time step no longer than the refractory period"),
    ({"activate": ["10@fast"]}, "--activate"),
    ({"trials": 0}, "--trials"),
    ({"threads": 0}, "--threads"),
    ({"preset": "nope"}, "preset"),
])
def test_bad_input_is_one_line_error(tmp_path, kwargs, match):
    with pytest.raises(NeuralscopeError, match=match) as info:
        _run(tmp_path, out=tmp_path / "never", **kwargs)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "never").exists()


def test_bad_connectome_files(tmp_path):
    pd.DataFrame({"pre": [1], "post": [2], "count": [-3]}).to_csv(tmp_path / "neg.csv", index=False)
    with pytest.raises(NeuralscopeError, match="non-negative"):
        _run(tmp_path, connectome=str(tmp_path / "neg.csv"), activate=None, report=None)
    pd.DataFrame({"Presynaptic_Index": [0], "Postsynaptic_Index": [7], "Connectivity": [3],
                  "Excitatory": [1]}).to_parquet(tmp_path / "fw.parquet")
    pd.DataFrame({"Completed": [True] * 3}, index=[5, 6, 7]).to_csv(tmp_path / "comp.csv")
    with pytest.raises(NeuralscopeError, match="missing neuron"):
        run_simulate_command(connectome=str(tmp_path / "fw.parquet"), neurons=str(tmp_path / "comp.csv"), quiet=True)
    with pytest.raises(NeuralscopeError, match="CONNECTOME"):
        _run(tmp_path, connectome=str(tmp_path / "nothing.csv"))
    with pytest.raises(NeuralscopeError, match="CONNECTOME"):
        _run(tmp_path, connectome="demo:fly")
    (tmp_path / "file").write_text("x")
    with pytest.raises(NeuralscopeError, match="--out"):
        _run(tmp_path, out=tmp_path / "file")


def test_parsers():
    assert parse_duration("1s") == 1.0 and parse_duration("250ms") == 0.25 and parse_duration(2) == 2.0
    assert parse_activation("a,b@200") == (["a", "b"], 200.0)
    assert parse_activation("a") == (["a"], None)
    assert parse_activation("x@1.5e2Hz") == (["x"], 150.0)
