"""`neuralscope imaging spikes`: contract, calibration on simulated data, bad input."""

import json

import numpy as np
import pytest

from neuralscope.cli.main import main
from neuralscope.datasets.calcium import simulate_calcium_traces
from neuralscope.imaging.spikes import spike_correlation


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("method", ["auto", "oasis"])
def test_contract_and_scores(tmp_path, capsys, method):
    sim = simulate_calcium_traces(n_neurons=6, duration=60, fs=30, indicator="GCaMP6f", noise_level=1.5,
                                  random_state=11)
    np.savez(tmp_path / "t.npz", dff=sim.dff)
    out_dir = tmp_path / "out"
    code, out, err = _run(["-q", "imaging", "spikes", str(tmp_path / "t.npz"), "--fs", "30", "--out", str(out_dir),
                           "--method", method, "--json"], capsys)
    assert code == 0, err
    res = json.loads(out)
    assert res["n_cells"] == 6 and res["n_frames"] == 1800
    assert res["model"] and res["method"] == ("deep" if method == "auto" else "oasis")
    with np.load(out_dir / "spikes.npz") as z:
        rates = z["spike_rates"]
    assert rates.shape == sim.dff.shape and np.all(rates >= 0)
    assert np.mean(spike_correlation(rates, sim.spikes, 30.0, bin_width=0.1)) > 0.5
    if method == "auto":  # calibrated: expected spikes within 30 % of the truth
        assert rates.sum() == pytest.approx(sim.spikes.sum(), rel=0.3)
        assert res["calibrated"] is True
    assert json.loads((out_dir / "metrics.json").read_text())["model"] == res["model"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_one_trace_gives_one_row_and_fs_from_file(tmp_path, capsys):
    sim = simulate_calcium_traces(n_neurons=1, duration=30, fs=20, random_state=2)
    np.savez(tmp_path / "one.npz", dff=sim.dff[0], fs=20.0)
    code, out, err = _run(["-q", "imaging", "spikes", str(tmp_path / "one.npz"), "--out", str(tmp_path / "o"),
                           "--json"], capsys)
    assert code == 0, err
    with np.load(tmp_path / "o" / "spikes.npz") as z:
        assert z["spike_rates"].shape == (600,)


def _bad_inputs(tmp_path):
    good = np.random.default_rng(0).normal(size=(2, 300))
    nan = good.copy()
    nan[1, 5] = np.nan
    np.savez(tmp_path / "nan.npz", dff=nan)
    np.savez(tmp_path / "nokey.npz", traces=good)
    np.savez(tmp_path / "dims.npz", dff=good[None])
    np.savez(tmp_path / "good.npz", dff=good)
    (tmp_path / "trunc.npz").write_bytes((tmp_path / "good.npz").read_bytes()[:100])
    return [
        [str(tmp_path / "nan.npz"), "--fs", "30"],
        [str(tmp_path / "nokey.npz"), "--fs", "30"],
        [str(tmp_path / "dims.npz"), "--fs", "30"],
        [str(tmp_path / "good.npz"), "--fs", "0"],
        [str(tmp_path / "good.npz"), "--fs", "-5"],
        [str(tmp_path / "good.npz")],  # no frame rate anywhere
        [str(tmp_path / "good.npz"), "--fs", "30", "--method", "magic"],
        [str(tmp_path / "trunc.npz"), "--fs", "30"],
        [str(tmp_path / "missing.npz"), "--fs", "30"],
        [str(tmp_path), "--fs", "30"],
    ]


def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for args in _bad_inputs(inputs):
        out_dir = tmp_path / "out"
        code, out, err = _run(["imaging", "spikes", *args, "--out", str(out_dir), "--json"], capsys)
        assert code == 2, (args, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert not out_dir.exists(), args
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
