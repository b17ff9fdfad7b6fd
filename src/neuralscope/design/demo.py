"""The experiment-design part of ``neuralscope demo``: BO vs random search regret curves
on Hartmann6 and the stimulation neuron, and RF maps after N trials, active vs random vs grid."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from neuralscope.report import Section


def _bo_curves(fn_name: str, seeds: list[int], n_initial: int, n_iter: int) -> dict:
    from scipy.stats import qmc

    from neuralscope.design import Experiment
    from neuralscope.design.functions import TEST_FUNCTIONS

    fn = TEST_FUNCTIONS[fn_name]
    lo, hi = fn.bounds[:, 0], fn.bounds[:, 1]
    curves: dict[str, list] = {"neuralscope BO (log EI)": [], "random search": []}
    secs = []
    for seed in seeds:
        # Both methods start from the same scrambled-Sobol design (16 points drawn, the first n used).
        X0 = lo + qmc.Sobol(len(lo), scramble=True, seed=seed).random(16)[:n_initial] * (hi - lo)
        exp = Experiment(fn.parameters(), initial=n_initial, seed=seed)
        for x in X0:
            exp.observe(dict(zip(exp.space.names, map(float, x))), fn(x))
        for _ in range(n_iter):
            p = exp.suggest()
            exp.observe(p, fn(np.array([p[k] for k in exp.space.names])))
        secs.append(exp.seconds_per_suggestion)
        vals = np.array([t["value"] for t in exp.trials])
        curves["neuralscope BO (log EI)"].append(fn.optimum - np.maximum.accumulate(vals))
        rng = np.random.default_rng([seed, 99])
        Xr = np.vstack([X0, lo + rng.random((n_iter, len(lo))) * (hi - lo)])
        curves["random search"].append(fn.optimum - np.maximum.accumulate(fn(Xr)))
    return {"curves": curves, "seconds_per_suggestion": float(np.mean(secs))}


def _neuron_curves(seeds: list[int], n_initial: int, n_iter: int) -> dict:
    from neuralscope.design import Experiment, StimulationNeuron
    from neuralscope.design.space import SearchSpace

    curves: dict[str, list] = {"neuralscope BO (noisy log EI)": [], "random search": []}
    for seed in seeds:
        neuron = StimulationNeuron(random_state=seed, noise=True)
        truth = StimulationNeuron(random_state=seed, noise=False)
        best = truth.optimum()[1]
        exp = Experiment(StimulationNeuron.PARAMETERS, initial=n_initial, seed=seed, acquisition="noisy_logei")
        regret = []
        for _ in range(n_initial + n_iter):
            p = exp.suggest()
            exp.observe(p, neuron(p))
            # Regret of the setting the model believes best, scored on the noiseless response.
            done = exp.completed
            chosen = max(done, key=lambda t: t["value"])["params"] if len(done) < n_initial + 1 else \
                _model_best(exp)
            regret.append(best - truth(chosen))
        curves["neuralscope BO (noisy log EI)"].append(regret)
        space = SearchSpace(StimulationNeuron.PARAMETERS)
        rng = np.random.default_rng([seed, 98])
        X = space.sample(n_initial + n_iter, rng, sobol=False)
        ys = [neuron(space.decode(x)) for x in X]
        # Random search recommends its best noisy observation (it has no model).
        curves["random search"].append([best - truth(space.decode(X[int(np.argmax(ys[: k + 1]))]))
                                        for k in range(len(X))])
    return {"curves": curves, "optimum": float(best)}


def _model_best(exp) -> dict:
    X, y = exp._training_data()
    gp = exp._optimizer.fit_model(X, y, warm_start=exp._theta)
    mean = gp.predict(X)
    return exp.space.decode(X[int(np.argmax(mean))])


def rfmap_section(result: dict, runs: dict) -> Section:
    """Report section of an RF-mapping comparison (from :func:`neuralscope.design.runner.run_rfmap_demo`)."""
    from neuralscope.design.plots import rf_error_figure, rf_maps_figure
    from neuralscope.design.rfmap import NEURONS

    section = Section(
        "Design: active receptive-field mapping", key="design-rfmap",
        intro=("Simulated neurons with known receptive fields answer each stimulus with a Poisson spike count. The "
               "same GP model (on Anscombe-transformed counts) estimates the rate map whatever chose the stimuli: "
               "active sampling (largest posterior variance of the rate), uniform random stimuli, or a regular "
               "grid in shuffled blocks. RF error is the relative RMSE of the estimated rate map on a dense grid."),
    )
    neuron = NEURONS[result["neuron"]](random_state=result["seed"])
    section.add_figure("maps", rf_maps_figure(neuron, {s: rs[0] for s, rs in runs.items()}),
                       caption=f"Neuron {result['seed']}: true rate map and each strategy's estimate after "
                               f"{result['trials']} trials (white dots: the stimuli shown).",
                       score=", ".join(f"{s} {rs[0].errors[-1]:.2f}" for s, rs in runs.items()))
    curves = {s: [(r.checkpoints, r.errors) for r in rs] for s, rs in runs.items()}
    med = result["median_trials_to_target"]
    shown = ", ".join(f"{s} {v:g}" if v is not None else f"{s} >{result['trials']}" for s, v in med.items())
    section.add_figure("error-vs-trials", rf_error_figure(curves, target=result["target_error"]),
                       caption=f"RF error vs trials over {result['neurons']} simulated neurons.",
                       score=f"median trials to error {result['target_error']:g}: {shown}")
    return section


def demo_sections(seed: int = 0, quick: bool = False, progress: Callable[[str], None] | None = None
                  ) -> list[tuple[Section, dict]]:
    """BO regret curves and active RF mapping, with their metrics."""
    from neuralscope.design.plots import regret_figure
    from neuralscope.design.runner import run_rfmap_demo

    say = progress or (lambda m: None)
    t0 = time.perf_counter()
    seeds = [seed] if quick else [seed + k for k in range(3)]
    n_init, n_iter = 10, (20 if quick else 30)
    say(f"design: Bayesian optimisation of Hartmann6 ({len(seeds)} seed(s), {n_init} + {n_iter} evaluations)")
    h6 = _bo_curves("hartmann6", seeds, n_init, n_iter)
    bo = Section(
        "Design: Bayesian optimisation", key="design-bo",
        intro=("neuralscope's exact GP (Matérn-5/2, ARD, MAP hyper-parameters) with log expected improvement "
               "against random search, from the same initial Sobol design. Hartmann6 is maximised (optimum "
               "3.32237); the simulated stimulation neuron answers amplitude, frequency and pulse width with "
               "Poisson spike counts, and its regret is scored on the noiseless response at the setting each "
               "method recommends."),
    )
    final = {k: float(np.median([c[-1] for c in v])) for k, v in h6["curves"].items()}
    bo.add_figure("hartmann6-regret", regret_figure(h6["curves"], "Hartmann6", n_initial=n_init),
                  caption=f"Simple regret vs evaluations ({n_init} initial + {n_iter} BO iterations).",
                  score=(f"final median regret: BO {final['neuralscope BO (log EI)']:.3f}, random "
                         f"{final['random search']:.3f}; {h6['seconds_per_suggestion']:.3f} s per suggestion"))
    metrics: dict = {"hartmann6_final_regret_bo": final["neuralscope BO (log EI)"],
                     "hartmann6_final_regret_random": final["random search"],
                     "seconds_per_suggestion": h6["seconds_per_suggestion"]}
    say("design: stimulation-response neuron")
    nr = _neuron_curves(seeds, 8, 12 if quick else 22)
    nfinal = {k: float(np.median([c[-1] for c in v])) for k, v in nr["curves"].items()}
    bo.add_figure("neuron-regret", regret_figure(nr["curves"], "stimulation neuron (noisy)", n_initial=8),
                  caption="Expected spikes lost at the recommended stimulation setting vs trials.",
                  score=(f"final median regret: BO {nfinal['neuralscope BO (noisy log EI)']:.2f} spikes, random "
                         f"{nfinal['random search']:.2f} (optimum {nr['optimum']:.1f} spikes)"))
    metrics.update({"neuron_final_regret_bo": nfinal["neuralscope BO (noisy log EI)"],
                    "neuron_final_regret_random": nfinal["random search"]})
    say("design: active receptive-field mapping")
    trials, n_neurons = (100, 1) if quick else (150, 3)
    result, runs = run_rfmap_demo(neuron="position", trials=trials, seeds=n_neurons, seed=seed)
    rf = rfmap_section(result, runs)
    rf_metrics = {"rfmap_median_trials_to_target": result["median_trials_to_target"],
                  "rfmap_target_error": result["target_error"],
                  "rfmap_final_error_median": result["final_error_median"], "rfmap_neurons": n_neurons,
                  "rfmap_trials": trials}
    metrics["wall_seconds"] = time.perf_counter() - t0
    return [(bo, metrics), (rf, rf_metrics)]
