"""Active receptive-field mapping: trials needed to reach a target RF error, active vs random vs grid.

Simulated neurons with known RFs (seeded), Poisson responses; every strategy
is scored with the same GP estimator, on the same neuron, at checkpoints up
to its budget (random and grid get a larger budget so that their trials to
target are measured rather than cut off). RF error = relative RMSE of the
estimated rate map on a dense grid.

    python benchmarks/design_rfmap.py [--neuron position|orientation-sf] [--neurons 8] [--target 0.35]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> dict:
    from neuralscope.design.rfmap import NEURONS, map_receptive_field

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--neuron", default="position", choices=sorted(NEURONS))
    ap.add_argument("--neurons", type=int, default=8, help="Simulated neurons (seeds 0..N-1).")
    ap.add_argument("--target", type=float, default=0.35)
    ap.add_argument("--active-budget", type=int, default=200)
    ap.add_argument("--passive-budget", type=int, default=500)
    ap.add_argument("--strategies", default="active,random,grid")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    strategies = args.strategies.split(",")
    reach: dict[str, list] = {s: [] for s in strategies}
    final: dict[str, list] = {s: [] for s in strategies}
    secs: dict[str, list] = {s: [] for s in strategies}
    for seed in range(args.neurons):
        line = []
        for s in strategies:
            budget = args.active_budget if s in ("active", "variance-reduction") else args.passive_budget
            checks = list(range(10, min(budget, 200) + 1, 10)) + list(range(225, budget + 1, 25))
            t0 = time.perf_counter()
            res = map_receptive_field(NEURONS[args.neuron](random_state=seed), s, n_trials=budget,
                                      checkpoints=checks, random_state=seed)
            secs[s].append(time.perf_counter() - t0)
            n = res.trials_to_reach(args.target)
            reach[s].append(n)
            final[s].append(dict(zip(res.checkpoints, res.errors)))
            line.append(f"{s} {n if n is not None else f'>{budget}'}")
        print(f"neuron {seed}: trials to error {args.target:g}: " + ", ".join(line), file=sys.stderr, flush=True)

    def med(v):
        return float(np.median([math.inf if x is None else x for x in v]))

    print(f"\n{args.neuron} neurons: {args.neurons}, target RF error {args.target:g}")
    print(f"{'strategy':<20} {'median trials':>14} {'per neuron':>40} {'error@100':>10} {'s/run':>8}")
    summary = {}
    for s in strategies:
        e100 = float(np.median([f.get(100, np.nan) for f in final[s]]))
        summary[s] = {"median_trials_to_target": med(reach[s]), "trials_to_target": reach[s],
                      "median_error_at_100": e100, "seconds_per_run": float(np.mean(secs[s]))}
        per = ",".join("-" if x is None else str(x) for x in reach[s])
        print(f"{s:<20} {med(reach[s]):>14g} {per:>40} {e100:>10.3f} {np.mean(secs[s]):>8.1f}")
    if "active" in summary and "random" in summary:
        ratio = summary["active"]["median_trials_to_target"] / summary["random"]["median_trials_to_target"]
        paired = [a / r for a, r in zip(reach["active"], reach["random"]) if a is not None and r is not None]
        censored = sum(r is None for r in reach["random"])
        print(f"active / random median trials = {ratio:.2f} (<= 0.5 is the acceptance); per-neuron ratios where both "
              f"reached: {np.round(paired, 2).tolist()}; random never reached it within {args.passive_budget} "
              f"trials on {censored} neurons")
        summary["active_over_random"] = ratio
    if args.json:
        args.json.write_text(json.dumps(summary, default=float))
    return summary


if __name__ == "__main__":
    main()
