"""The C. elegans hermaphrodite connectome (Cook et al. 2019) as a :class:`Connectome`.

The edge list has synapse and gap-junction counts but no transmitter, so the
sign of chemical synapses is a convention, stated here:

- chemical synapses made by the 26 GABAergic neurons of the hermaphrodite
  (DD1-6, VD1-13, RMED/V/L/R, AVL, DVB, RIS; McIntire et al. 1993) are
  inhibitory (-1), every other chemical synapse excitatory (+1);
- electrical synapses (gap junctions) couple both ways; the file lists almost
  every junction in both directions, and each row drives its post neuron.

This is a simplification: some glutamatergic and cholinergic synapses of the
worm are inhibitory (through GluCl or ACC chloride channels), which no edge
list records. Pass ``gaba_inhibitory=False`` for an all-excitatory graph, or
build your own signs with :class:`Connectome`. Most worm neurons are
graded-potential cells, so an LIF network is a qualitative model here.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from neuralscope.core.connectome import Connectome, read_connectome
from neuralscope.core.errors import NeuralscopeError

DATA_FILE = Path(__file__).resolve().parent / "data" / "celegans_herm_full_edgelist.csv"

GABAERGIC = tuple([f"DD{i:02d}" for i in range(1, 7)] + [f"VD{i:02d}" for i in range(1, 14)]
                  + ["RMED", "RMEV", "RMEL", "RMER", "AVL", "DVB", "RIS"])
#: Gentle-touch receptor neurons (anterior ALM/AVM, posterior PLM/PVM).
TOUCH_RECEPTORS = ("ALML", "ALMR", "AVM", "PLML", "PLMR", "PVM")
#: Locomotion command interneurons: AVA/AVD/AVE drive backward, AVB/PVC forward movement.
COMMAND_INTERNEURONS = ("AVAL", "AVAR", "AVBL", "AVBR", "AVDL", "AVDR", "AVEL", "AVER", "PVCL", "PVCR")
#: Ventral-cord motor neuron classes (A-type backward, B-type forward, D-type GABAergic).
MOTOR_CLASSES = ("DA", "VA", "DB", "VB", "AS", "DD", "VD", "VC")
_MOTOR = re.compile(r"^(DA|VA|DB|VB|AS|DD|VD|VC)\d\d$")


def _cell_type(name: str) -> str:
    if name[:1].isupper():
        return "neuron"
    if name.startswith(("dBWM", "vBWM", "pm", "mc", "um", "vm")):
        return "muscle"
    return "other"


def _group(name: str) -> str:
    if name in TOUCH_RECEPTORS:
        return "touch receptor"
    if name in COMMAND_INTERNEURONS:
        return "command interneuron"
    if _MOTOR.match(name):
        return "motor neuron"
    return "other" if _cell_type(name) == "neuron" else _cell_type(name)


def celegans_path() -> Path:
    """The shipped edge list, or the shared-data copy beside a source checkout."""
    if DATA_FILE.exists():
        return DATA_FILE
    shared = Path(__file__).resolve().parents[4] / "shared" / "data" / "connectomes" / "celegans" / "herm_full_edgelist.csv"
    if shared.exists():
        return shared
    raise NeuralscopeError("celegans", "the C. elegans edge list shipped with neuralscope", f"missing {DATA_FILE}")


def load_celegans(path: str | Path | None = None, *, gaba_inhibitory: bool = True,
                  neurons_only: bool = True) -> Connectome:
    """The hermaphrodite connectome with the sign convention of this module.

    Parameters
    ----------
    path : path, optional
        An edge list in the same format (default: the copy shipped with neuralscope).
    gaba_inhibitory : bool
        Make the chemical synapses of the 26 GABAergic neurons inhibitory.
    neurons_only : bool
        Keep only neurons (drop muscles and end organs such as the intestine).

    Returns
    -------
    Connectome
        Neuron metadata columns: ``cell_type`` (neuron, muscle, other), ``group``
        (touch receptor, command interneuron, motor neuron, other),
        ``motor_class`` (DA, VA, ... for ventral-cord motor neurons),
        ``neurotransmitter`` ("GABA" for the GABAergic neurons, else missing).
    """
    raw = read_connectome(path or celegans_path(), name="celegans")
    names = raw.neuron_ids.astype(str)
    keep = np.array([_cell_type(n) == "neuron" for n in names]) if neurons_only else np.ones(len(names), bool)
    edge_keep = keep[raw.pre] & keep[raw.post]
    ids = names[keep]
    table = pd.DataFrame({
        "cell_type": [_cell_type(n) for n in ids],
        "group": [_group(n) for n in ids],
        "motor_class": [m.group(1) if (m := _MOTOR.match(n)) else None for n in ids],
        "neurotransmitter": ["GABA" if n in GABAERGIC else None for n in ids],
    }, index=pd.Index(ids, name="neuron"))
    pre, post = names[raw.pre[edge_keep]], names[raw.post[edge_keep]]
    sign = np.ones(len(pre), np.int8)
    if gaba_inhibitory:
        sign[np.isin(pre, GABAERGIC) & (raw.kind[edge_keep] == 0)] = -1
    return Connectome(pre, post, raw.count[edge_keep], sign=sign, kind=raw.kind[edge_keep], neuron_ids=ids,
                      neurons=table, name="C. elegans hermaphrodite (Cook et al. 2019)")
