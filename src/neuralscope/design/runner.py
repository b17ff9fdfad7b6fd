"""What ``neuralscope design optimize`` and ``design rfmap`` do (the CLI module only parses options)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from neuralscope.core.errors import NeuralscopeError

CONFIG_KEYS = {"parameters", "objective", "budget", "initial", "seed", "state", "maximize", "acquisition",
               "kernel", "batch_size", "linear_constraints"}


def load_config(path: str | Path) -> dict:
    """Read and check an optimisation config (YAML or JSON)."""
    from neuralscope.io.config import read_yaml_mapping

    cfg = read_yaml_mapping(path, "a mapping of settings")
    unknown = set(cfg) - CONFIG_KEYS
    if unknown:
        raise NeuralscopeError("CONFIG", f"keys among {sorted(CONFIG_KEYS)}", sorted(unknown))
    if "objective" not in cfg:
        raise NeuralscopeError("CONFIG.objective", "a built-in name or {command: ...}", "missing")
    return dict(cfg)


def _int_setting(cfg: Mapping, key: str, default: int | None, minimum: int) -> int:
    v = cfg.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise NeuralscopeError(f"CONFIG.{key}", f"an integer >= {minimum}", v)
    return v


def run_optimize(config: str | Path, budget: int | None = None, state: str | Path | None = None,
                 log: Callable[[str], None] | None = None) -> dict:
    """Run (or resume) the optimisation a config describes; returns the contract's result dict."""
    from neuralscope.design.experiment import Experiment
    from neuralscope.design.functions import TEST_FUNCTIONS, StimulationNeuron
    from neuralscope.design.objectives import ObjectiveFailed, make_objective
    from neuralscope.design.space import SearchSpace

    say = log or (lambda m: None)
    cfg = load_config(config)
    seed = _int_setting(cfg, "seed", 0, 0)
    total = budget if budget is not None else _int_setting(cfg, "budget", None, 1)
    if isinstance(total, bool) or not isinstance(total, int) or total < 1:
        raise NeuralscopeError("--budget", "an integer >= 1", total)
    initial = _int_setting(cfg, "initial", min(10, total), 1)
    batch = _int_setting(cfg, "batch_size", 1, 1)
    spec = cfg["objective"]
    params = cfg.get("parameters")
    if params is None:
        if spec == "neuron":
            params = StimulationNeuron.PARAMETERS
        elif isinstance(spec, str) and spec in TEST_FUNCTIONS:
            params = TEST_FUNCTIONS[spec].parameters()
        else:
            raise NeuralscopeError("CONFIG.parameters", "a list of {name, type, bounds | values}", "missing")
    if not isinstance(params, list):
        raise NeuralscopeError("CONFIG.parameters", "a list of {name, type, bounds | values}", params)
    space = SearchSpace(params, cfg.get("linear_constraints") or ())
    objective = make_objective(spec, space.names, seed=seed)
    maximize = cfg.get("maximize", True)
    if not isinstance(maximize, bool):
        raise NeuralscopeError("CONFIG.maximize", "true or false", maximize)
    state_path = state if state is not None else cfg.get("state")
    if state_path is not None:
        state_path = Path(state_path)
        if not state_path.is_absolute():  # relative to the config, so a config folder is self-contained
            state_path = Path(config).resolve().parent / state_path
    exp = Experiment(space, maximize=maximize, initial=initial, seed=seed,
                     acquisition=cfg.get("acquisition", "logei"), kernel=cfg.get("kernel", "matern52"),
                     state=state_path)
    resumed = len(exp)
    if resumed:
        say(f"resumed {resumed} recorded trials from {state_path}")
    t0 = time.perf_counter()
    while len(exp) < total:
        for p in exp.suggest_batch(min(batch, total - len(exp))):
            try:
                value = objective(p)
            except ObjectiveFailed as exc:
                exp.observe_failure(p, str(exc))
                say(f"trial {len(exp) - 1}: failed ({exc})")
                continue
            except Exception as exc:  # noqa: BLE001 - a broken objective fails its trial, not the experiment
                exp.observe_failure(p, f"{type(exc).__name__}: {exc}")
                say(f"trial {len(exp) - 1}: failed ({type(exc).__name__}: {exc})")
                continue
            rec = exp.observe(p, value)
            say(f"trial {rec['index']}: {rec['status']} value={rec['value']}")
    best_params, best_value = exp.best()
    result: dict[str, Any] = {
        "best_value": best_value if best_value is not None else math.nan,
        "best_params": best_params or {},
        "n_observations": len(exp),
        "seconds_per_suggestion": exp.seconds_per_suggestion,
        "n_completed": len(exp.completed), "n_failed": len(exp.failed), "resumed_observations": resumed,
        "objective": spec if isinstance(spec, str) else "command", "seed": seed,
        "state": str(state_path) if state_path is not None else None, "wall_seconds": time.perf_counter() - t0,
    }
    opt = getattr(objective, "optimum", None)
    if opt is not None and best_value is not None and maximize:
        # Regret on the noiseless objective at the best observed setting (a noisy best value overstates it).
        result["optimum"] = float(opt)
        result["regret"] = float(opt) - float(objective.expected(best_params))
    return result


def run_rfmap_demo(neuron: str = "position", trials: int = 150, seeds: int = 3, target: float = 0.35,
                   seed: int = 0, strategies: tuple[str, ...] = ("active", "random", "grid"),
                   log: Callable[[str], None] | None = None) -> tuple[dict, dict]:
    """Map simulated neurons (``seeds`` of them) with each strategy; returns (result, runs)."""
    from neuralscope.design.rfmap import NEURONS, STRATEGIES, map_receptive_field

    say = log or (lambda m: None)
    if neuron not in NEURONS:
        raise NeuralscopeError("--neuron", f"one of {sorted(NEURONS)}", neuron)
    for s in strategies:
        if s not in STRATEGIES:
            raise NeuralscopeError("--strategies", f"names among {STRATEGIES}", s)
    if not (isinstance(trials, int) and trials >= 20):
        raise NeuralscopeError("--trials", "an integer >= 20", trials)
    if not (isinstance(seeds, int) and seeds >= 1):
        raise NeuralscopeError("--neurons", "an integer >= 1", seeds)
    if not (isinstance(target, (int, float)) and 0 < target < 1):
        raise NeuralscopeError("--target", "a relative error in (0, 1)", target)
    checkpoints = list(range(10, trials + 1, 10))
    runs: dict[str, list] = {s: [] for s in strategies}
    t0 = time.perf_counter()
    for k in range(seeds):
        for s in strategies:
            cell = NEURONS[neuron](random_state=seed + k)
            res = map_receptive_field(cell, s, n_trials=trials, checkpoints=checkpoints, random_state=seed + k)
            runs[s].append(res)
            say(f"neuron {seed + k} {s}: error {res.errors[-1]:.3f} after {trials} trials")
    reach = {s: [r.trials_to_reach(target) for r in rs] for s, rs in runs.items()}

    def _median_trials(v: list) -> float | None:
        # Never reaching the target counts as "more than the budget" (inf) in the median.
        arr = np.array([math.inf if x is None else x for x in v], float)
        med = float(np.median(arr))
        return med if math.isfinite(med) else None

    result = {
        "neuron": neuron, "trials": trials, "neurons": seeds, "target_error": target, "seed": seed,
        "trials_to_target": reach,
        "median_trials_to_target": {s: _median_trials(v) for s, v in reach.items()},
        "final_error_median": {s: float(np.median([r.errors[-1] for r in rs])) for s, rs in runs.items()},
        "checkpoints": checkpoints,
        "errors": {s: [r.errors for r in rs] for s, rs in runs.items()},
        "wall_seconds": time.perf_counter() - t0,
    }
    return result, runs
