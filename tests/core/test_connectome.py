"""Connectome: construction, checks, sparse export, CSV/parquet readers incl. the FlyWire layout."""

import numpy as np
import pandas as pd
import pytest

from neuralscope.core.connectome import (
    Connectome,
    read_connectome,
    signs_from_transmitters,
)
from neuralscope.core.errors import NeuralscopeError


def _small():
    neurons = pd.DataFrame({"cls": ["s", "i", "m", "m"]}, index=pd.Index(["a", "b", "c", "d"]))
    return Connectome(["a", "a", "b", "c", "b"], ["b", "c", "c", "b", "d"], [3, 1, 2, 5, 4],
                      sign=[1, 1, -1, 1, 1], kind=["chemical"] * 4 + ["electrical"],
                      neuron_ids=["a", "b", "c", "d"], neurons=neurons, name="toy")


def test_construction_indices_and_metadata():
    c = _small()
    assert (c.n_neurons, c.n_edges) == (4, 5)
    assert c.n_synapses == 11.0
    np.testing.assert_array_equal(c.index(["c", "a"]), [2, 0])
    assert list(c.select(cls="m")) == ["c", "d"]
    assert c.edges.kind.tolist() == ["chemical"] * 4 + ["electrical"]
    assert "4 neurons, 4 chemical and 1 electrical edges" in repr(c)
    with pytest.raises(NeuralscopeError, match="unknown ids zz"):
        c.index(["a", "zz"], "ids")
    with pytest.raises(NeuralscopeError, match="metadata column"):
        c.select(nope=1)


def test_sparse_export_is_signed_and_sums_duplicates():
    c = Connectome([0, 0, 1, 0], [1, 1, 2, 2], [2, 3, 4, 1], sign=[1, 1, -1, 1])
    m = c.to_sparse()
    assert m.shape == (3, 3)
    np.testing.assert_array_equal(m.toarray(), [[0, 5, 1], [0, 0, -4], [0, 0, 0]])
    np.testing.assert_array_equal(c.to_sparse(signed=False).toarray()[1], [0, 0, 4])
    assert _small().to_sparse("electrical").nnz == 1


def test_bad_edges_are_rejected():
    with pytest.raises(NeuralscopeError, match="missing neuron"):
        Connectome(["a"], ["x"], [1], neuron_ids=["a", "b"])
    with pytest.raises(NeuralscopeError, match="missing neuron"):
        Connectome.from_indices(np.array([0]), np.array([5]), np.array([1.0]), n_neurons=3)
    with pytest.raises(NeuralscopeError, match="non-negative"):
        Connectome(["a"], ["b"], [-2])
    with pytest.raises(NeuralscopeError, match="sign"):
        Connectome(["a"], ["b"], [1], sign=[0])
    with pytest.raises(NeuralscopeError, match="kind"):
        Connectome(["a"], ["b"], [1], kind=["magic"])
    with pytest.raises(NeuralscopeError, match="finite"):
        Connectome(["a"], ["b"], [np.nan])


def test_parquet_round_trip_keeps_isolated_neurons_and_metadata(tmp_path):
    c = _small()
    c2 = read_connectome(c.to_parquet(tmp_path / "c.parquet"))
    assert c2.name == "toy"
    np.testing.assert_array_equal(c2.neuron_ids, c.neuron_ids)
    pd.testing.assert_frame_equal(c2.edges, c.edges)
    assert c2.neurons["cls"].tolist() == ["s", "i", "m", "m"]


def test_csv_round_trip(tmp_path):
    c = _small()
    c2 = read_connectome(c.to_csv(tmp_path / "c.csv"))
    pd.testing.assert_frame_equal(c2.edges, c.edges)


def test_flywire_connectivity_parquet(tmp_path):
    # the layout of the Shiu et al. model's Connectivity_783.parquet, written here on a toy graph
    ids = np.array([720575940600000000 + k for k in range(5)], dtype=np.int64)
    pre_i, post_i = np.array([0, 0, 3, 4]), np.array([1, 2, 1, 0])
    conn, exc = np.array([5, 1, 12, 2]), np.array([1, -1, 1, -1])
    df = pd.DataFrame({"Presynaptic_ID": ids[pre_i], "Postsynaptic_ID": ids[post_i], "Presynaptic_Index": pre_i,
                       "Postsynaptic_Index": post_i, "Connectivity": conn, "Excitatory": exc,
                       "Excitatory x Connectivity": conn * exc})
    df.to_parquet(tmp_path / "Connectivity_toy.parquet")
    comp = pd.DataFrame({"Completed": [True] * 5}, index=pd.Index(ids, name="Unnamed: 0"))
    comp.to_csv(tmp_path / "Completeness_toy.csv")
    c = read_connectome(tmp_path / "Connectivity_toy.parquet", neurons=tmp_path / "Completeness_toy.csv")
    assert c.n_neurons == 5 and c.n_edges == 4  # every listed neuron kept, in completeness order
    np.testing.assert_array_equal(c.neuron_ids, ids)
    np.testing.assert_array_equal(c.to_sparse().toarray()[0], [0, 5, -1, 0, 0])
    assert c.index([str(ids[3])])[0] == 3  # ids typed on a command line match
    # without the neuron table the root ids name the neurons
    c2 = read_connectome(tmp_path / "Connectivity_toy.parquet")
    assert set(c2.neuron_ids) == set(ids[[0, 1, 2, 3, 4]])
    # only the signed column present
    df[["Presynaptic_Index", "Postsynaptic_Index", "Connectivity", "Excitatory x Connectivity"]].to_parquet(
        tmp_path / "signed.parquet")
    c3 = read_connectome(tmp_path / "signed.parquet")
    np.testing.assert_array_equal(c3.sign, exc)
    # inconsistent signed column
    bad = df.copy()
    bad.loc[0, "Excitatory x Connectivity"] = 7
    bad.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(NeuralscopeError, match="Excitatory x Connectivity"):
        read_connectome(tmp_path / "bad.parquet")
    # an index beyond the neuron table is an edge to a missing neuron
    short = comp.iloc[:4]
    short.to_csv(tmp_path / "short.csv")
    with pytest.raises(NeuralscopeError, match="missing neuron"):
        read_connectome(tmp_path / "Connectivity_toy.parquet", neurons=tmp_path / "short.csv")
    neg = df.copy()
    neg.loc[1, "Connectivity"] = -1
    neg.loc[1, "Excitatory x Connectivity"] = 1
    neg.to_parquet(tmp_path / "neg.parquet")
    with pytest.raises(NeuralscopeError, match="non-negative"):
        read_connectome(tmp_path / "neg.parquet")


def test_generic_csv_with_neurotransmitters_and_padded_names(tmp_path):
    (tmp_path / "e.csv").write_text(
        "Source,Target,Weight,Type\nAVAL , AVAR   ,3,chemical\nAVAR , AVAL   ,2,electrical\n")
    c = read_connectome(tmp_path / "e.csv")
    assert list(c.neuron_ids) == ["AVAL", "AVAR"]
    assert c.kind.tolist() == [0, 1]
    (tmp_path / "nt.csv").write_text("pre,post,count,neurotransmitter\n1,2,4,ACh\n2,3,1,GABA\n3,1,2,glutamate\n")
    c = read_connectome(tmp_path / "nt.csv")
    assert c.sign.tolist() == [1, -1, -1]
    (tmp_path / "da.csv").write_text("pre,post,count,nt\n1,2,4,DA\n")
    with pytest.raises(NeuralscopeError, match="unknown transmitters"):
        read_connectome(tmp_path / "da.csv")
    assert signs_from_transmitters(["DA"], {"da": 1}).tolist() == [1]
    (tmp_path / "w.csv").write_text("pre,post,weight\n1,2,-3\n2,1,2\n")
    c = read_connectome(tmp_path / "w.csv")
    assert c.sign.tolist() == [-1, 1] and c.count.tolist() == [3, 2]
    (tmp_path / "negc.csv").write_text("pre,post,count\n1,2,-3\n")
    with pytest.raises(NeuralscopeError, match="non-negative"):
        read_connectome(tmp_path / "negc.csv")


def test_reader_errors(tmp_path):
    with pytest.raises(NeuralscopeError, match="existing"):
        read_connectome(tmp_path / "none.csv")
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(NeuralscopeError, match="columns pre, post"):
        read_connectome(tmp_path / "x.csv")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(NeuralscopeError, match="parquet"):
        read_connectome(tmp_path / "x.json")
    (tmp_path / "nan.csv").write_text("pre,post,count\n1,2,many\n")
    with pytest.raises(NeuralscopeError, match="numeric"):
        read_connectome(tmp_path / "nan.csv")


def test_input_is_not_modified():
    pre, post, count = np.array([0, 1]), np.array([1, 0]), np.array([2.0, 3.0])
    c = Connectome.from_indices(pre, post, count, n_neurons=2)
    c.count[0] = 99
    assert count[0] == 2.0


def test_flywire_layout_with_the_real_completeness_table(tmp_path, shared_data):
    # The real v783 neuron list (138,639 root ids, row order = model index) with a few edges in the
    # Connectivity layout: ready for the full Connectivity_783.parquet, which is not in shared/data.
    comp = shared_data / "connectomes" / "flybrain" / "Completeness_783.csv"
    if not comp.exists():
        pytest.skip(f"{comp} is absent")
    pd.DataFrame({"Presynaptic_Index": [0, 138_638], "Postsynaptic_Index": [138_638, 5], "Connectivity": [7, 2],
                  "Excitatory": [1, -1], "Excitatory x Connectivity": [7, -2]}).to_parquet(tmp_path / "c.parquet")
    c = read_connectome(tmp_path / "c.parquet", neurons=comp)
    ids = pd.read_csv(comp, index_col=0).index.to_numpy()
    assert c.n_neurons == 138_639 == len(ids)
    assert c.neuron_ids[c.pre[1]] == ids[-1] and c.neuron_ids[c.post[1]] == ids[5]
    assert c.index([str(ids[5])])[0] == 5
