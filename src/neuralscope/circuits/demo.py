"""The simulation part of ``neuralscope demo``: the C. elegans connectome as a
spiking network, touch input, and the effect of silencing the command
interneurons on the motor neurons."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from neuralscope.report import Section


def _fi_check(section: Section, duration: float) -> dict:
    """Ground truth first: one LIF neuron under constant input against the analytic rate."""
    from neuralscope.circuits import Experiment, LIFNetwork, get_preset
    from neuralscope.circuits.params import lif_rate
    from neuralscope.circuits.plots import fi_figure
    from neuralscope.core.connectome import Connectome

    params = get_preset("flywire-lif")
    amps = np.array([6.0, 7.5, 8.0, 9.0, 10.0, 12.0, 15.0, 20.0, 30.0, 50.0])
    ids = np.arange(len(amps))
    # Independent neurons (no edges) in one network; each gets its own current.
    single = Connectome.from_indices(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0), n_neurons=len(amps))
    exp = Experiment("f-I")
    for i, amp in zip(ids, amps):
        exp = exp.inject([int(i)], float(amp))
    res = LIFNetwork(single, params, device="cpu", dtype="float64").run(exp, duration=duration)
    sim = res.counts()[0] / duration
    # Spike counts over a finite window differ from duration / ISI by at most one spike.
    exact = np.array([lif_rate(a, params, discrete=True) for a in amps])
    cont = np.array([lif_rate(a, params) for a in amps])
    err_exact = float(np.max(np.abs(sim - exact)))
    err_cont = float(np.max(np.abs(sim - cont)))
    section.add_figure(
        "fi-curve", fi_figure(amps, sim, cont),
        caption=("One neuron of the flywire-lif preset (tau_m 20 ms, threshold 7 mV above rest, refractory 2.2 ms) "
                 f"under constant input, simulated for {duration:g} s, against the analytic LIF rate."),
        score=(f"max |simulated - analytic| = {err_cont:.2f} Hz (continuous time), {err_exact:.2f} Hz "
               f"(the scheme's exact discrete-time rate; at most 1 spike / {duration:g} s expected)"),
    )
    return {"fi_max_error_hz": err_cont, "fi_max_error_discrete_hz": err_exact}


def demo_sections(seed: int = 0, quick: bool = False, progress: Callable[[str], None] | None = None) -> list[tuple[Section, dict]]:
    """Touch the worm in silico, then silence its command interneurons."""
    from neuralscope.circuits import Experiment, LIFNetwork
    from neuralscope.circuits.celegans import (
        COMMAND_INTERNEURONS,
        TOUCH_RECEPTORS,
        load_celegans,
    )
    from neuralscope.circuits.fitting import fit_synaptic_scale
    from neuralscope.circuits.plots import (
        effect_figure,
        population_rate_figure,
        raster_figure,
    )

    say = progress or (lambda m: None)
    t_start = time.perf_counter()
    section = Section(
        "Simulate: touch and locomotion circuits of the C. elegans connectome", key="simulation-celegans",
        intro=("The 300-neuron hermaphrodite connectome (Cook et al. 2019; chemical synapses signed +1, or -1 for "
               "the 26 GABAergic neurons; gap junctions as electrical coupling) run as a current-based LIF network "
               "(celegans-lif preset: fly-model neuron parameters, 1 mV per synapse). The six gentle-touch receptor "
               "neurons are driven by 150 Hz Poisson input. First the global synaptic scale is fitted so that the "
               "motor neurons fire at 5 Hz on average; then the ten command interneurons (AVA, AVB, AVD, AVE, PVC) "
               "are silenced (outgoing synapses and junctions zeroed) and the motor neurons compared with control. "
               "Worm neurons are mostly graded, so this is a qualitative circuit model."),
    )
    metrics = _fi_check(section, 1.0 if quick else 2.0)
    worm = load_celegans()
    net = LIFNetwork(worm, "celegans-lif", device="cpu")
    drive = Experiment("touch").activate(list(TOUCH_RECEPTORS), 150.0)
    motor = worm.select(group="motor neuron")
    n_trials, duration = (8, 0.5) if quick else (30, 1.0)
    say("simulation: fitting the synaptic scale (motor neurons at 5 Hz)")
    fit = fit_synaptic_scale(net, drive, 5.0, neurons=motor, bounds=(0.6, 1.2), duration=duration,
                             n_trials=4 if quick else 8, seed=seed, rtol=0.15, max_iter=6 if quick else 12)
    metrics.update({"fitted_scale": fit.scale, "fitted_motor_rate_hz": fit.rate_hz, "fit_converged": fit.converged})
    say(f"simulation: control and silenced conditions ({n_trials} trials x {duration:g} s each)")
    perturbed = drive.silence(list(COMMAND_INTERNEURONS))
    ctrl = net.run(drive, duration=duration, n_trials=n_trials, seed=seed + 1, weight_scale=fit.scale)
    pert = net.run(perturbed, duration=duration, n_trials=n_trials, seed=seed + 1, weight_scale=fit.scale)
    comp = pert.compare(ctrl, motor)
    ctrl_motor, pert_motor = ctrl.trial_rates(motor).mean(1), pert.trial_rates(motor).mean(1)
    diff = float(pert_motor.mean() - ctrl_motor.mean())
    half = 1.96 * float(np.sqrt(ctrl_motor.var(ddof=1) / n_trials + pert_motor.var(ddof=1) / n_trials))
    n_down = int((comp["ci_high"] < 0).sum())
    metrics.update({
        "motor_rate_control_hz": float(ctrl_motor.mean()), "motor_rate_silenced_hz": float(pert_motor.mean()),
        "motor_difference_hz": diff, "motor_difference_ci95_hz": [diff - half, diff + half],
        "motor_neurons_decreased": n_down, "motor_neurons": len(motor),
        "trials": n_trials, "duration_s": duration, "simulation_wall_s": ctrl.wall_seconds + pert.wall_seconds,
    })
    order = [*TOUCH_RECEPTORS, *COMMAND_INTERNEURONS, *sorted(motor, key=lambda n: (n[:2], n))]
    groups = list(worm.neurons.loc[order, "group"])
    runs = {"control": ctrl, "command interneurons silenced": pert}
    section.add_figure(
        "raster", raster_figure(runs, order, groups=groups),
        caption="Trial 0 of each condition: touch receptors, command interneurons, then motor neurons by class.",
        score=f"global synaptic scale fitted to {fit.scale:.3g}: motor neurons {fit.rate_hz:.2f} Hz (target 5 Hz)",
    )
    section.add_figure(
        "motor-rate", population_rate_figure(runs, motor, bin_size=0.02, title="motor neurons, mean rate"),
        caption=f"Mean rate of the {len(motor)} ventral-cord motor neurons over time (mean and 95 % band over trials).",
        score=(f"motor neurons {ctrl_motor.mean():.2f} Hz (control) vs {pert_motor.mean():.2f} Hz (silenced): "
               f"difference {diff:+.2f} Hz, 95 % CI [{diff - half:+.2f}, {diff + half:+.2f}]"),
    )
    shown = comp.reindex(comp["difference_hz"].abs().sort_values(ascending=False).index)[:40]
    section.add_figure(
        "motor-effect", effect_figure(shown, names=("silenced", "control"),
                                      title="motor neurons: silenced command interneurons vs control"),
        caption="The 40 motor neurons with the largest change; Welch 95 % intervals over trials.",
        score=f"{n_down} of {len(motor)} motor neurons significantly less active (95 % CI below 0)",
    )
    section.add_note(f"Simulation wall time {metrics['simulation_wall_s']:.1f} s on CPU for "
                     f"2 x {n_trials} trials x {duration:g} s (total section {time.perf_counter() - t_start:.1f} s).")
    return [(section, metrics)]
