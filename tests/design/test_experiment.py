"""Ask/tell experiments: persistence after every observation, failures, resuming after SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from neuralscope.core.errors import NeuralscopeError
from neuralscope.design import Experiment, branin

SPACE = [{"name": "x1", "type": "float", "bounds": [-5, 10]}, {"name": "x2", "type": "float", "bounds": [0, 15]}]


def _f(p):
    return branin([p["x1"], p["x2"]])


def test_state_written_after_every_observation_and_resumed(tmp_path):
    state = tmp_path / "exp.json"
    exp = Experiment(SPACE, initial=4, seed=1, state=state)
    for i in range(7):
        p = exp.suggest()
        exp.observe(p, _f(p))
        saved = json.loads(state.read_text())
        assert len(saved["trials"]) == i + 1 and saved["trials"][-1]["params"] == p
    nxt = exp.suggest()
    again = Experiment(SPACE, initial=4, seed=1, state=state)
    assert [t["value"] for t in again.trials] == [t["value"] for t in exp.trials]
    # The resumed experiment makes the same choice the live one made.
    np.testing.assert_allclose(list(again.suggest().values()), list(nxt.values()), rtol=1e-6)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_failed_trials_are_recorded_and_the_experiment_continues(tmp_path):
    exp = Experiment(SPACE, initial=3, seed=0, state=tmp_path / "s.json")
    values = [1.0, float("nan"), None, "oops", -2.0, float("inf"), 0.5, 0.7]
    for v in values:
        exp.observe(exp.suggest(), v)
    assert [t["status"] for t in exp.trials] == ["completed", "failed", "failed", "failed", "completed",
                                                 "failed", "completed", "completed"]
    assert exp.best()[1] == 1.0 and len(exp.failed) == 4
    exp.observe_failure(exp.suggest(), "rig disconnected")
    saved = json.loads((tmp_path / "s.json").read_text())
    assert saved["trials"][-1]["info"] == "rig disconnected" and len(saved["trials"]) == 9
    p = exp.suggest()  # the model copes with failures (imputed as the worst value)
    assert set(p) == {"x1", "x2"}


def test_resume_with_other_settings_is_refused(tmp_path):
    state = tmp_path / "s.json"
    exp = Experiment(SPACE, initial=3, seed=0, state=state)
    exp.observe(exp.suggest(), 1.0)
    with pytest.raises(NeuralscopeError):
        Experiment(SPACE, initial=3, seed=5, state=state)
    state.write_text("{not json")
    with pytest.raises(NeuralscopeError):
        Experiment(SPACE, initial=3, seed=0, state=state)


def test_bad_observations_raise():
    exp = Experiment(SPACE, initial=2)
    with pytest.raises(NeuralscopeError):
        exp.observe({"x1": 100.0, "x2": 1.0}, 1.0)
    with pytest.raises(NeuralscopeError):
        exp.observe({"x1": 1.0}, 1.0)
    with pytest.raises(NeuralscopeError):
        Experiment(SPACE, initial=0)


CHILD = textwrap.dedent('''
    import sys, time
    from neuralscope.design import Experiment, branin
    SPACE = [{"name": "x1", "type": "float", "bounds": [-5, 10]}, {"name": "x2", "type": "float", "bounds": [0, 15]}]
    exp = Experiment(SPACE, initial=5, seed=3, state=sys.argv[1])
    while len(exp) < 40:
        p = exp.suggest()
        v = branin([p["x1"], p["x2"]])
        rec = exp.observe(p, v)
        print(rec["index"], repr(v), flush=True)
        time.sleep(0.05)
''')


def test_killed_mid_run_loses_no_observation(tmp_path):
    state = tmp_path / "state.json"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, str(script), str(state)], stdout=subprocess.PIPE, text=True, env=env)
    seen = {}
    try:
        while len(seen) < 8:
            line = proc.stdout.readline()
            assert line, "child ended early"
            i, v = line.split()
            seen[int(i)] = float(v)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    resumed = Experiment(SPACE, initial=5, seed=3, state=state)
    assert len(resumed) >= len(seen)  # everything reported before the kill is on disk
    for i, v in seen.items():
        assert resumed.trials[i]["value"] == v and resumed.trials[i]["index"] == i
    while len(resumed) < 12:
        p = resumed.suggest()
        resumed.observe(p, branin([p["x1"], p["x2"]]))
    final = json.loads(state.read_text())
    assert len(final["trials"]) == 12 and [t["index"] for t in final["trials"]] == list(range(12))


def test_same_seed_same_suggestions_and_minimisation():
    def run(seed):
        exp = Experiment(SPACE, initial=4, seed=seed, maximize=False)
        for _ in range(9):
            p = exp.suggest()
            exp.observe(p, -_f(p))  # minimising the positive Branin
        return exp

    a, b, c = run(4), run(4), run(5)
    assert [t["params"] for t in a.trials] == [t["params"] for t in b.trials]
    assert [t["params"] for t in a.trials] != [t["params"] for t in c.trials]
    assert a.best()[1] == min(t["value"] for t in a.trials)
