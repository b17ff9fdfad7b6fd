"""Simulation benchmark: neuralscope's LIF simulator against Brian2, side by side.

Not a test. Three comparisons, each run in fresh worker processes (so wall time
includes every build step and peak memory is per process):

1. CUBA (Brian2's classic benchmark: 4,000 LIF neurons, 2 % random connectivity,
   Vogels & Abbott parameters) x 1 s: the same graph and the same initial
   potentials in both simulators; Brian2 with the numpy, cython (fresh cache,
   so the compile counts) and cpp_standalone (fresh build) targets. CUBA is
   chaotic, so spike trains diverge after a few ms from rounding differences;
   rates are compared statistically against the spread between independent
   initial conditions of the same network.
2. C. elegans (the shipped hermaphrodite connectome, gap junctions included,
   celegans-lif preset, touch receptors driven at 150 Hz) x 10 trials x 1 s:
   Brian2 gets exactly our Poisson input spikes (SpikeGeneratorGroup), so
   per-neuron rates must agree to float rounding.
3. FlyWire size: a synthetic heavy-tailed graph of 138,639 neurons and
   15,091,983 edges (written once as a FlyWire-layout Connectivity parquet and
   read back with the FlyWire loader), 21 neurons driven at 200 Hz, 30 trials
   x 1 s batched; optionally Brian2 on the same graph and inputs (one trial).

Brian2 runs in its own virtual environment (brian2 2.9 needs numpy < 2.4):
``--setup`` creates it in ~/.cache/neuralscope-bench/brian2-venv.

Run:  .venv/bin/python benchmarks/simulation.py [--setup] [--quick] [--threads 1]
          [--skip-cuba] [--skip-celegans] [--skip-flywire] [--flywire-brian2 cpp_standalone]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CACHE = Path.home() / ".cache" / "neuralscope-bench"
BRIAN2_PY = CACHE / "brian2-venv" / "bin" / "python"
HERE = Path(__file__).resolve()
FLYWIRE_PARQUET = CACHE / "synthetic_flywire_783_connectivity.parquet"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _worker(python: Path, name: str, data: Path, extra: list[str] | None = None, timeout: int = 3600) -> dict:
    """Run one measurement in a fresh process; it writes result.json in ``data``."""
    cmd = [str(python), str(HERE), "--worker", name, "--data", str(data), *(extra or [])]
    env = dict(os.environ)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-3:] if proc.stderr else f"exit {proc.returncode}",
                "process_wall_s": wall}
    out = json.loads((data / f"{name}.json").read_text())
    out["process_wall_s"] = wall
    return out


# ======================================================================= workers
def _ours_setup_threads(args) -> None:
    import torch

    torch.set_num_threads(args.threads)


def worker_ours_cuba(args) -> dict:
    _ours_setup_threads(args)
    t0 = time.perf_counter()
    from neuralscope.circuits import LIFNetwork
    from neuralscope.core.connectome import Connectome

    d = np.load(args.data / "cuba.npz")
    conn = Connectome.from_indices(d["pre"], d["post"], np.ones(len(d["pre"]), np.float32), d["sign"],
                                   n_neurons=int(d["n"]))
    t1 = time.perf_counter()
    net = LIFNetwork(conn, "cuba", device="cpu", dtype=args.dtype)
    res = net.run(duration=float(d["duration"]), v_init=d["v0"][args.seed])
    t2 = time.perf_counter()
    np.savez(args.data / f"ours_cuba_{args.seed}.npz", i=res.neurons, t=res.times)
    return {"import_s": t1 - t0, "build_s": net.build_seconds_, "run_s": res.wall_seconds,
            "build_plus_run_s": t2 - t1, "peak_mb": _peak_mb(), "spikes": res.n_spikes}


def worker_brian2_cuba(args) -> dict:
    t_import = time.perf_counter()
    import brian2 as b2

    t0 = time.perf_counter()
    d = np.load(args.data / "cuba.npz")
    target, work = args.target, Path(tempfile.mkdtemp(prefix=f"b2cuba-{args.target}-", dir=args.data))
    if target == "cpp_standalone":
        b2.set_device("cpp_standalone", directory=str(work / "standalone"), build_on_run=True)
    else:
        b2.prefs.codegen.target = target
        if target == "cython":  # a fresh cache: the first compile is part of the cost
            b2.prefs.codegen.runtime.cython.cache_dir = str(work / "cython-cache")
    b2.defaultclock.dt = 0.1 * b2.ms
    ns = {"taum": 20 * b2.ms, "taue": 5 * b2.ms, "taui": 10 * b2.ms, "Vt": -50 * b2.mV, "Vr": -60 * b2.mV,
          "El": -49 * b2.mV, "we": (60 * 0.27 / 10) * b2.mV, "wi": (-20 * 4.5 / 10) * b2.mV}
    eqs = """dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
             dge/dt = -ge/taue : volt
             dgi/dt = -gi/taui : volt"""
    P = b2.NeuronGroup(int(d["n"]), eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * b2.ms,
                       method="exact", namespace=ns)
    P.v = d["v0"][args.seed] * b2.mV
    exc = d["sign"] > 0
    Ce = b2.Synapses(P, P, on_pre="ge += we", namespace=ns)
    Ce.connect(i=d["pre"][exc], j=d["post"][exc])
    Ci = b2.Synapses(P, P, on_pre="gi += wi", namespace=ns)
    Ci.connect(i=d["pre"][~exc], j=d["post"][~exc])
    M = b2.SpikeMonitor(P)
    net = b2.Network(P, Ce, Ci, M)
    net.run(float(d["duration"]) * b2.second)
    t1 = time.perf_counter()
    out = {"import_s": t0 - t_import, "build_plus_run_s": t1 - t0, "peak_mb": _peak_mb(),
           "children_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0,
           "spikes": int(M.num_spikes)}
    if target == "cpp_standalone":
        dev = b2.get_device()
        out["loop_s"] = float(dev._last_run_time)
        out["compile_s"] = float(sum(v for v in dev.timers["compile"].values() if v is not None))
    np.savez(args.data / f"brian2_cuba_{target}.npz", i=np.asarray(M.i[:]), t=np.asarray(M.t[:] / b2.second))
    return out


def worker_ours_celegans(args) -> dict:
    _ours_setup_threads(args)
    import pandas as pd

    from neuralscope.circuits import Experiment, LIFNetwork
    from neuralscope.circuits.celegans import TOUCH_RECEPTORS, load_celegans

    cfg = json.loads((args.data / "celegans.json").read_text())
    t0 = time.perf_counter()
    worm = load_celegans()
    net = LIFNetwork(worm, "celegans-lif", device="cpu", dtype=args.dtype)
    exp = Experiment("touch").activate(list(TOUCH_RECEPTORS), cfg["rate"])
    res = net.run(exp, duration=cfg["duration"], n_trials=cfg["trials"], seed=args.seed, weight_scale=cfg["scale"])
    t1 = time.perf_counter()
    if args.seed == 0:  # the exact input spikes, for Brian2
        ev = net.input_events(exp, duration=cfg["duration"], n_trials=cfg["trials"], seed=args.seed)
        ev.to_parquet(args.data / "celegans_inputs.parquet")
        el = worm.is_electrical
        pd.DataFrame({"pre": worm.pre, "post": worm.post, "count": worm.count, "sign": worm.sign,
                      "electrical": el}).to_parquet(args.data / "celegans_edges.parquet")
        (args.data / "celegans_params.json").write_text(json.dumps(net.params.to_dict()))
        np.save(args.data / "celegans_driven.npy", worm.index(list(TOUCH_RECEPTORS)))
    np.savez(args.data / f"ours_celegans_{args.seed}.npz", i=res.neurons, t=res.times, trial=res.trials)
    return {"build_plus_run_s": t1 - t0, "run_s": res.wall_seconds, "peak_mb": _peak_mb(), "spikes": res.n_spikes,
            "n_neurons": worm.n_neurons}


def worker_brian2_celegans(args) -> dict:
    import brian2 as b2
    import pandas as pd

    t0 = time.perf_counter()
    cfg = json.loads((args.data / "celegans.json").read_text())
    p = json.loads((args.data / "celegans_params.json").read_text())
    e = pd.read_parquet(args.data / "celegans_edges.parquet")
    ev = pd.read_parquet(args.data / "celegans_inputs.parquet")
    driven = np.load(args.data / "celegans_driven.npy")
    b2.prefs.codegen.target = args.target
    b2.defaultclock.dt = p["dt"] * b2.second
    n = int(max(e.pre.max(), e.post.max()) + 1)
    ns = {"v_0": p["v_rest"] * b2.mV, "v_th": p["v_threshold"] * b2.mV, "v_rst": p["v_reset"] * b2.mV,
          "t_mbr": p["tau_m"] * b2.second, "tau": p["tau_syn"] * b2.second}
    eqs = """dv/dt = (v_0 - v + g + Igap) / t_mbr : volt (unless refractory)
             dg/dt = -g / tau : volt (unless refractory)
             Igap : volt
             rfc : second"""
    neu = b2.NeuronGroup(n, eqs, threshold="v > v_th", reset="v = v_rst; g = 0*mV", refractory="rfc",
                         method="exact", namespace=ns)
    neu.v = p["v_rest"] * b2.mV
    neu.rfc = p["refractory"] * b2.second
    neu.rfc[driven] = p["input_refractory"] * b2.second
    chem, el = e[~e.electrical], e[e.electrical]
    w_inh = p["w_syn"] if p["w_syn_inh"] is None else p["w_syn_inh"]
    syn = b2.Synapses(neu, neu, "w : volt", on_pre="g += w", delay=p["delay"] * b2.second)
    syn.connect(i=chem.pre.to_numpy(), j=chem.post.to_numpy())
    syn.w = cfg["scale"] * chem["count"].to_numpy() * np.where(chem.sign > 0, p["w_syn"], -w_inh) * b2.mV
    gap = b2.Synapses(neu, neu, "wg : 1\nIgap_post = wg * (v_pre - v_post) : volt (summed)")
    gap.connect(i=el.pre.to_numpy(), j=el.post.to_numpy())
    gap.wg = p["w_gap"] * el["count"].to_numpy()
    inp = b2.SpikeGeneratorGroup(n, [0], [0] * b2.ms)  # indices = target neuron
    feed = b2.Synapses(inp, neu, on_pre=f"v += {p['input_weight']}*mV")
    feed.connect(j="i")
    mon = b2.SpikeMonitor(neu)
    net = b2.Network(neu, syn, gap, inp, feed, mon)
    net.store()
    i_all, t_all, k_all = [], [], []
    for k in range(cfg["trials"]):
        net.restore()
        trial = ev[ev.trial == k]
        inp.set_spikes(trial.neuron.to_numpy(), trial.step.to_numpy() * p["dt"] * b2.second)
        net.run(cfg["duration"] * b2.second)
        # copies: the monitor's arrays are reused (restored) by the next trial
        i_all.append(np.array(mon.i[:], copy=True)), t_all.append(np.array(mon.t[:] / b2.second, copy=True))
        k_all.append(np.full(len(i_all[-1]), k))
    t1 = time.perf_counter()
    np.savez(args.data / f"brian2_celegans_{args.target}.npz", i=np.concatenate(i_all), t=np.concatenate(t_all),
             trial=np.concatenate(k_all))
    return {"build_plus_run_s": t1 - t0, "peak_mb": _peak_mb(), "spikes": int(sum(len(x) for x in i_all))}


def worker_ours_flywire(args) -> dict:
    _ours_setup_threads(args)
    import torch

    from neuralscope.circuits import Experiment, LIFNetwork
    from neuralscope.core.connectome import read_connectome

    cfg = json.loads((args.data / "flywire.json").read_text())
    t0 = time.perf_counter()
    conn = read_connectome(FLYWIRE_PARQUET)
    t1 = time.perf_counter()
    device = args.device or "cpu"
    net = LIFNetwork(conn, "flywire-lif", device=device, dtype=args.dtype)
    exp = Experiment("drive").activate(cfg["driven"], 200.0)
    res = net.run(exp, duration=cfg["duration"], n_trials=cfg["trials"], seed=0)
    t2 = time.perf_counter()
    if cfg.get("export_inputs"):
        ev = net.input_events(exp, duration=cfg["duration"], n_trials=1, seed=0)
        ev.to_parquet(args.data / "flywire_inputs.parquet")
    counts = res.counts()
    np.save(args.data / "ours_flywire_counts.npy", counts)
    out = {"load_s": t1 - t0, "build_s": net.build_seconds_, "run_s": res.wall_seconds,
           "per_trial_s": res.wall_seconds / cfg["trials"], "build_plus_run_s": t2 - t1, "peak_mb": _peak_mb(),
           "spikes": res.n_spikes, "neurons_spiking": int((counts.sum(0) > 0).sum()), "max_active": res.max_active,
           "mean_rate_spiking_hz": float(counts.sum() / max((counts.sum(0) > 0).sum(), 1) / cfg["trials"] / cfg["duration"]),
           "threads": args.threads, "device": device}
    if device == "cuda":
        out["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def worker_brian2_flywire(args) -> dict:
    import brian2 as b2
    import pandas as pd

    t0 = time.perf_counter()
    cfg = json.loads((args.data / "flywire.json").read_text())
    ev = pd.read_parquet(args.data / "flywire_inputs.parquet")
    df = pd.read_parquet(FLYWIRE_PARQUET, columns=["Presynaptic_Index", "Postsynaptic_Index", "Excitatory x Connectivity"])
    work = Path(tempfile.mkdtemp(prefix=f"b2fly-{args.target}-", dir=args.data))
    if args.target == "cpp_standalone":
        b2.set_device("cpp_standalone", directory=str(work / "standalone"), build_on_run=True)
    else:
        b2.prefs.codegen.target = args.target
        if args.target == "cython":
            b2.prefs.codegen.runtime.cython.cache_dir = str(work / "cython-cache")
    b2.defaultclock.dt = 0.1 * b2.ms
    n = cfg["n_neurons"]
    ns = {"v_0": -52 * b2.mV, "v_th": -45 * b2.mV, "v_rst": -52 * b2.mV, "t_mbr": 20 * b2.ms, "tau": 5 * b2.ms}
    eqs = """dv/dt = (v_0 - v + g) / t_mbr : volt (unless refractory)
             dg/dt = -g / tau : volt (unless refractory)
             rfc : second"""
    neu = b2.NeuronGroup(n, eqs, threshold="v > v_th", reset="v = v_rst; g = 0*mV", refractory="rfc",
                         method="linear", namespace=ns)
    neu.v = -52 * b2.mV
    rfc = np.full(n, 2.2e-3)
    rfc[np.asarray(cfg["driven_index"])] = 0.0  # whole-array assignment: standalone mode needs it
    neu.rfc = rfc * b2.second
    syn = b2.Synapses(neu, neu, "w : volt", on_pre="g += w", delay=1.8 * b2.ms)
    syn.connect(i=df["Presynaptic_Index"].to_numpy(), j=df["Postsynaptic_Index"].to_numpy())
    syn.w = df["Excitatory x Connectivity"].to_numpy() * 0.275 * b2.mV
    del df
    inp = b2.SpikeGeneratorGroup(n, ev.neuron.to_numpy(), ev.step.to_numpy() * 0.1 * b2.ms)
    feed = b2.Synapses(inp, neu, on_pre="v += 68.75*mV")
    feed.connect(j="i")
    mon = b2.SpikeMonitor(neu)
    b2.run(cfg["duration"] * b2.second)
    t1 = time.perf_counter()
    out = {"build_plus_run_s": t1 - t0, "peak_mb": _peak_mb(),
           "children_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0,
           "spikes": int(mon.num_spikes)}
    if args.target == "cpp_standalone":
        dev = b2.get_device()
        out["loop_s"] = float(dev._last_run_time)
    np.save(args.data / f"brian2_flywire_counts_{args.target}.npy", np.bincount(np.asarray(mon.i[:]), minlength=n))
    return out


WORKERS = {f.__name__.removeprefix("worker_").replace("_", "-"): f for f in [
    worker_ours_cuba, worker_brian2_cuba, worker_ours_celegans, worker_brian2_celegans,
    worker_ours_flywire, worker_brian2_flywire]}


# ================================================================== comparisons
def _rates(i, n, trials, duration):
    return np.bincount(np.asarray(i, np.int64), minlength=n) / (trials * duration)


def _pop_rate(t, n, duration, bin_s=1e-3):
    h = np.bincount(np.minimum((np.asarray(t) / bin_s).astype(np.int64), round(duration / bin_s) - 1),
                    minlength=round(duration / bin_s))
    return h / (n * bin_s)


def bench_cuba(args, data: Path) -> dict:
    from scipy import stats

    from neuralscope.circuits.synthetic import cuba_connectome

    n, duration, seeds = 4000, 1.0, [0, 1, 2, 3]
    conn = cuba_connectome(n, 0.02, random_state=0)
    v0 = np.stack([np.random.default_rng(100 + s).uniform(-60.0, -50.0, n) for s in seeds])
    np.savez(data / "cuba.npz", pre=conn.pre, post=conn.post, sign=conn.sign, n=n, duration=duration, v0=v0)
    runs = {}
    for s in seeds:
        runs[f"neuralscope seed {s}"] = _worker(Path(sys.executable), "ours-cuba", data,
                                                ["--seed", str(s), "--threads", str(args.threads)])
    runs["neuralscope float64"] = _worker(Path(sys.executable), "ours-cuba", data,
                                          ["--seed", "0", "--dtype", "float64", "--threads", str(args.threads)])
    # the float64 run overwrote seed 0's spikes file: keep it apart, then redo seed 0 in float32
    os.replace(data / "ours_cuba_0.npz", data / "ours_cuba_f64.npz")
    runs["neuralscope seed 0"] = _worker(Path(sys.executable), "ours-cuba", data,
                                         ["--seed", "0", "--threads", str(args.threads)])
    for target in args.brian2_targets:
        runs[f"brian2 {target}"] = _worker(BRIAN2_PY, "brian2-cuba", data, ["--target", target, "--seed", "0"])
    stats_rows = {}
    ref = None
    for name, r in runs.items():
        f = {"neuralscope float64": "ours_cuba_f64.npz"}.get(name)
        if f is None:
            f = f"ours_cuba_{name.split()[-1]}.npz" if name.startswith("neuralscope") else f"brian2_cuba_{name.split()[1]}.npz"
        if "error" in r or not (data / f).exists():
            continue
        sp = np.load(data / f)
        rates = _rates(sp["i"], n, 1, duration)
        pr = _pop_rate(sp["t"], n, duration)
        stats_rows[name] = {"mean_rate_hz": float(rates.mean()), "rate_sd_hz": float(rates.std()),
                            "pop_rate_sd_hz": float(pr[100:].std()), "rates": rates, "i": sp["i"], "t": sp["t"]}
        if name == "brian2 numpy" or (ref is None and name.startswith("brian2")):
            ref = name
    seed_means = [stats_rows[f"neuralscope seed {s}"]["mean_rate_hz"] for s in seeds if f"neuralscope seed {s}" in stats_rows]
    seed_sd = float(np.std(seed_means, ddof=1)) if len(seed_means) > 1 else float("nan")
    out = {"runs": runs, "seed_mean_rate_sd_hz": seed_sd, "reference": ref, "stats": {}}
    for name, s in stats_rows.items():
        row = {k: v for k, v in s.items() if k not in ("rates", "i", "t")}
        if ref is not None and name != ref:
            b = stats_rows[ref]
            ks = stats.ks_2samp(s["rates"], b["rates"])
            row.update({"ks_vs_ref": float(ks.statistic), "ks_p_vs_ref": float(ks.pvalue),
                        "mean_rate_diff_hz": s["mean_rate_hz"] - b["mean_rate_hz"]})
            # identical spikes in the first 20 ms (same graph, same v0: before chaos separates them)
            early = lambda x: set(zip(np.round(x["t"][x["t"] < 0.02] * 1e4).astype(int).tolist(), x["i"][x["t"] < 0.02].tolist()))
            if name in ("neuralscope seed 0", "neuralscope float64") or name.startswith("brian2"):
                e1, e2 = early(s), early(b)
                row["identical_spikes_first_20ms"] = len(e1 & e2) / max(len(e2), 1)
        out["stats"][name] = row
    # Tolerance: the mean rate may differ from Brian2's by at most 3 sd of the seed-to-seed spread of the
    # same network (or 2 %, whichever is larger), and per-neuron rate distributions must pass a KS test.
    if ref is not None and "neuralscope seed 0" in out["stats"]:
        row = out["stats"]["neuralscope seed 0"]
        tol = max(3 * seed_sd, 0.02 * stats_rows[ref]["mean_rate_hz"])
        out["tolerance_hz"] = tol
        out["pass"] = bool(abs(row["mean_rate_diff_hz"]) <= tol and row["ks_p_vs_ref"] > 0.01)
    return out


def bench_celegans(args, data: Path) -> dict:
    cfg = {"rate": 150.0, "duration": 1.0, "trials": args.celegans_trials, "scale": 0.9}
    (data / "celegans.json").write_text(json.dumps(cfg))
    runs = {"neuralscope seed 0": _worker(Path(sys.executable), "ours-celegans", data,
                                          ["--seed", "0", "--dtype", "float64", "--threads", str(args.threads)]),
            "neuralscope seed 1": _worker(Path(sys.executable), "ours-celegans", data,
                                          ["--seed", "1", "--dtype", "float64", "--threads", str(args.threads)])}
    runs[f"brian2 {args.celegans_target}"] = _worker(BRIAN2_PY, "brian2-celegans", data, ["--target", args.celegans_target])
    n = runs["neuralscope seed 0"].get("n_neurons", 300)
    T, D = cfg["trials"], cfg["duration"]
    a = np.load(data / "ours_celegans_0.npz")
    out = {"runs": runs, "config": cfg}
    bfile = data / f"brian2_celegans_{args.celegans_target}.npz"
    if not bfile.exists():
        return out
    b = np.load(bfile)
    c = np.load(data / "ours_celegans_1.npz")
    ra, rb, rc = _rates(a["i"], n, T, D), _rates(b["i"], n, T, D), _rates(c["i"], n, T, D)
    key = lambda x: set(zip(x["trial"].tolist(), np.round(x["t"] * 1e4).astype(int).tolist(), x["i"].tolist()))
    ka, kb = key(a), key(b)
    out.update({
        "mean_rate_hz": {"neuralscope": float(ra.mean()), "brian2": float(rb.mean()), "neuralscope other seed": float(rc.mean())},
        "max_abs_rate_diff_hz": float(np.abs(ra - rb).max()),
        "max_abs_rate_diff_other_seed_hz": float(np.abs(ra - rc).max()),
        "rate_correlation": float(np.corrcoef(ra, rb)[0, 1]),
        "identical_spike_fraction": len(ka & kb) / max(len(ka | kb), 1),
        "active_neurons": int((ra > 0).sum()),
    })
    # Same input spikes, same float64 arithmetic up to operation order: rates must agree within 1 Hz per
    # neuron (a spike moved by rounding at threshold changes one neuron's rate by 1/(trials x 1 s) = 0.1 Hz).
    out["tolerance"] = "per-neuron |rate difference| <= 1 Hz and >= 99 % identical spikes"
    out["pass"] = bool(out["max_abs_rate_diff_hz"] <= 1.0 and out["identical_spike_fraction"] >= 0.99)
    return out


def _write_flywire_graph() -> None:
    import pandas as pd

    from neuralscope.circuits.synthetic import synthetic_connectome

    conn = synthetic_connectome(random_state=0)
    sign = conn.sign.astype(np.int64)
    cnt = conn.count.astype(np.int64)
    pd.DataFrame({"Presynaptic_Index": conn.pre, "Postsynaptic_Index": conn.post, "Connectivity": cnt,
                  "Excitatory": sign, "Excitatory x Connectivity": sign * cnt}).to_parquet(FLYWIRE_PARQUET)


def bench_flywire(args, data: Path) -> dict:
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    if not FLYWIRE_PARQUET.exists():
        _write_flywire_graph()
    gen_s = time.perf_counter() - t0
    tab = pq.read_table(FLYWIRE_PARQUET, columns=["Presynaptic_Index", "Postsynaptic_Index"])
    pre, post = tab.column(0).to_numpy(), tab.column(1).to_numpy()
    n = int(max(pre.max(), post.max()) + 1)
    deg = np.bincount(pre, minlength=n)
    indeg = np.bincount(post, minlength=n)
    driven = np.sort(np.random.default_rng(1).choice(np.flatnonzero((deg >= 100) & (deg <= 1000)), 21, replace=False))
    cfg = {"driven": driven.tolist(), "driven_index": driven.tolist(), "trials": args.flywire_trials,
           "duration": 1.0, "n_neurons": n, "export_inputs": bool(args.flywire_brian2)}
    (data / "flywire.json").write_text(json.dumps(cfg))
    out = {"graph": {"neurons": n, "edges": len(pre), "out_degree_max": int(deg.max()),
                     "in_degree_max": int(indeg.max()), "out_degree_median": float(np.median(deg)),
                     "generate_s": gen_s}, "runs": {}}
    del pre, post, tab
    for th in args.flywire_threads:
        extra = ["--threads", str(th)] + (["--device", args.device] if args.device else [])
        out["runs"][f"neuralscope {th} thread(s)"] = _worker(Path(sys.executable), "ours-flywire", data, extra)
    for target in args.flywire_brian2:
        r = _worker(BRIAN2_PY, "brian2-flywire", data, ["--target", target], timeout=7200)
        out["runs"][f"brian2 {target} (1 trial)"] = r
        bfile = data / f"brian2_flywire_counts_{target}.npy"
        if bfile.exists():
            ours = np.load(data / "ours_flywire_counts.npy")[0]
            theirs = np.load(bfile)
            both = (ours > 0) | (theirs > 0)
            out[f"trial0_vs_brian2_{target}"] = {
                "neurons_spiking_ours": int((ours > 0).sum()), "neurons_spiking_brian2": int((theirs > 0).sum()),
                "spikes_ours": int(ours.sum()), "spikes_brian2": int(theirs.sum()),
                "max_abs_count_diff": int(np.abs(ours - theirs).max()),
                "rate_correlation": float(np.corrcoef(ours[both], theirs[both])[0, 1])}
    return out


def bench_device(args) -> dict:
    """On a GPU machine: CPU and GPU spike trains side by side, and trial batching at FlyWire size."""
    import torch

    from neuralscope.circuits import Experiment, LIFNetwork
    from neuralscope.circuits.celegans import TOUCH_RECEPTORS, load_celegans
    from neuralscope.circuits.synthetic import cuba_connectome, synthetic_connectome

    def same(a, b):
        ka = set(zip(a.trials.tolist(), a.steps.tolist(), a.neurons.tolist()))
        kb = set(zip(b.trials.tolist(), b.steps.tolist(), b.neurons.tolist()))
        return len(ka & kb) / max(len(ka | kb), 1)

    out = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "cpu_threads": torch.get_num_threads()}
    cuba = cuba_connectome(4000, 0.02, random_state=0)
    v0 = np.random.default_rng(100).uniform(-60.0, -50.0, 4000)
    runs = {dev: LIFNetwork(cuba, "cuba", device=dev, dtype="float64").run(duration=0.2, v_init=v0) for dev in ("cpu", "cuda")}
    out["cuba_float64_identical_spikes_cpu_vs_gpu"] = same(runs["cpu"], runs["cuda"])
    worm = load_celegans()
    exp = Experiment().activate(list(TOUCH_RECEPTORS), 150.0)
    runs = {dev: LIFNetwork(worm, "celegans-lif", device=dev, dtype="float64").run(
        exp, duration=1.0, n_trials=10, weight_scale=0.9) for dev in ("cpu", "cuda")}
    out["celegans_float64_identical_spikes_cpu_vs_gpu"] = same(runs["cpu"], runs["cuda"])
    out["celegans_wall_s"] = {k: r.wall_seconds for k, r in runs.items()}
    # CUBA with many independent trials in one batch (uniform random initial potentials per trial)
    net = LIFNetwork(cuba, "cuba", device="cuda")
    for b in (1, 100):
        r = net.run(duration=1.0, n_trials=b, v_init="uniform")
        out[f"cuba_gpu_{b}_trials_wall_s"] = r.wall_seconds
    t0 = time.perf_counter()
    fly = synthetic_connectome(random_state=0)
    out["flywire_generate_s"] = time.perf_counter() - t0
    deg = np.bincount(fly.pre, minlength=fly.n_neurons)
    driven = np.sort(np.random.default_rng(1).choice(np.flatnonzero((deg >= 100) & (deg <= 1000)), 21, replace=False))
    exp = Experiment().activate(driven, 200.0)
    for dev, trials in (("cuda", 30), ("cuda", 300), ("cpu", 30)):
        torch.cuda.reset_peak_memory_stats()
        net = LIFNetwork(fly, "flywire-lif", device=dev)
        r = net.run(exp, duration=1.0, n_trials=trials, seed=0)
        key = f"flywire_{dev}_{trials}_trials"
        out[key] = {"build_s": net.build_seconds_, "run_s": r.wall_seconds, "per_trial_s": r.wall_seconds / trials,
                    "spikes": r.n_spikes, "max_active": r.max_active,
                    "neurons_spiking": int((r.counts().sum(0) > 0).sum())}
        if dev == "cuda":
            out[key]["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
        print(key, out[key], flush=True)
    out["peak_rss_mb"] = _peak_mb()
    return out


def setup_brian2() -> None:
    if BRIAN2_PY.exists():
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(BRIAN2_PY.parents[1])], check=True)
    subprocess.run([str(BRIAN2_PY), "-m", "pip", "install", "-q", "brian2==2.9.*", "numpy<2.4", "cython",
                    "pandas", "pyarrow"], check=True)


def _print(results: dict) -> None:
    print("\n== results ==")
    for section, res in results.items():
        print(f"\n[{section}]")
        for name, r in res.get("runs", {}).items():
            keys = [k for k in ("build_plus_run_s", "run_s", "per_trial_s", "loop_s", "compile_s", "peak_mb",
                                "spikes", "neurons_spiking", "error") if k in r]
            print(f"  {name:32s} " + "  ".join(f"{k}={r[k]:.3g}" if isinstance(r[k], float) else f"{k}={r[k]}" for k in keys))
        for k, v in res.items():
            if k not in ("runs",):
                print(f"  {k}: {json.dumps(v, default=float) if not isinstance(v, str) else v}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker")
    ap.add_argument("--data", type=Path)
    ap.add_argument("--target", default="numpy")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--setup", action="store_true", help="create the Brian2 venv if missing")
    ap.add_argument("--quick", action="store_true", help="fewer trials; skip cpp_standalone")
    ap.add_argument("--skip-cuba", action="store_true")
    ap.add_argument("--skip-celegans", action="store_true")
    ap.add_argument("--skip-flywire", action="store_true")
    ap.add_argument("--brian2-targets", default="numpy,cython,cpp_standalone")
    ap.add_argument("--celegans-target", default="numpy")
    ap.add_argument("--flywire-threads", default="1,2")
    ap.add_argument("--flywire-brian2", default="",
                    help="Brian2 targets to run on the FlyWire-size graph too (one trial each), e.g. numpy,cython,cpp_standalone")
    ap.add_argument("--device-check", action="store_true", help="on a GPU machine: CPU vs GPU checks and timings only")
    ap.add_argument("--out", type=Path, default=CACHE / "simulation-results.json")
    args = ap.parse_args()
    if args.worker:
        res = WORKERS[args.worker](args)
        (args.data / f"{args.worker}.json").write_text(json.dumps(res))
        return
    if args.device_check:
        res = bench_device(args)
        print(json.dumps(res, indent=1, default=float))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=1, default=float))
        return
    if args.setup:
        setup_brian2()
    args.brian2_targets = [t for t in args.brian2_targets.split(",") if t and not (args.quick and t == "cpp_standalone")]
    args.flywire_threads = [int(t) for t in args.flywire_threads.split(",") if t]
    args.flywire_brian2 = [t for t in args.flywire_brian2.split(",") if t]
    args.celegans_trials = 3 if args.quick else 10
    args.flywire_trials = 5 if args.quick else 30
    if not BRIAN2_PY.exists():
        print(f"no Brian2 venv at {BRIAN2_PY}: run with --setup (Brian2 comparisons skipped)")
        args.brian2_targets, args.flywire_brian2 = [], []
    print(f"cpus: {os.cpu_count()}, load average {os.getloadavg()}, torch threads per worker {args.threads}")
    results = {"machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()}}
    with tempfile.TemporaryDirectory(prefix="ns-simbench-") as tmp:
        data = Path(tmp)
        if not args.skip_cuba:
            results["cuba"] = bench_cuba(args, data)
        if not args.skip_celegans:
            results["celegans"] = bench_celegans(args, data)
        if not args.skip_flywire:
            results["flywire"] = bench_flywire(args, data)
    results["machine"]["load_average_at_end"] = os.getloadavg()
    _print(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=float))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
