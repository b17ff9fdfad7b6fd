"""FlyWire / neuPrint / C. elegans importers, the parquet store and errors on bad tables."""

import numpy as np
import pandas as pd
import pytest

from neuralscope.connectomics.graph import adjacency, detect_layout, read_edge_table, read_store, write_store
from neuralscope.core.errors import NeuralscopeError

ROOT_A, ROOT_B, ROOT_C = 720575940600000001, 720575940600000002, 720575940600000003


def _flywire(path):
    pd.DataFrame({
        "pre_root_id": [ROOT_A, ROOT_A, ROOT_B, ROOT_C, ROOT_C],
        "post_root_id": [ROOT_B, ROOT_B, ROOT_C, ROOT_A, ROOT_B],
        "neuropil": ["AL_L", "LH_L", "LH_L", "MB_CA_L", "LH_L"],
        "syn_count": [7, 3, 12, 5, 1],
        "nt_type": ["ACH", "ACH", "GABA", "DA", "GABA"],
    }).to_csv(path, index=False)
    return path


def test_flywire_table(tmp_path):
    conn = read_edge_table(_flywire(tmp_path / "connections.csv"))
    assert conn.n_neurons == 3 and conn.n_edges == 5 and conn.neuron_ids.dtype == np.int64
    assert conn.neuron_ids.tolist() == [ROOT_A, ROOT_B, ROOT_C]  # 18-digit root ids kept exactly
    adj = adjacency(conn)
    assert adj.weights[0, 1] == 10 and adj.weights.nnz == 4  # the two neuropil rows of A -> B summed
    assert conn.sign.tolist() == [1, 1, -1, 1, -1]  # GABA inhibits; dopamine counted +1 (modulatory)
    assert conn.edge_attributes["neuropil"].tolist() == ["AL_L", "LH_L", "LH_L", "MB_CA_L", "LH_L"]
    # Neuron transmitter = that of most of its output synapses (C: 5 DA vs 1 GABA).
    assert conn.neurons.loc[[ROOT_A, ROOT_B, ROOT_C], "nt_type"].tolist() == ["ACH", "GABA", "DA"]


def test_flywire_parquet_and_store_round_trip(tmp_path):
    src = pd.read_csv(_flywire(tmp_path / "c.csv"))
    src.to_parquet(tmp_path / "c.parquet")
    conn = read_edge_table(tmp_path / "c.parquet")
    store = write_store(conn, tmp_path / "store")
    back = read_edge_table(store)
    for attr in ("pre", "post", "count", "sign", "kind", "neuron_ids"):
        assert np.array_equal(getattr(back, attr), getattr(conn, attr)), attr
    assert back.neurons["nt_type"].tolist() == conn.neurons["nt_type"].tolist()
    assert back.edge_attributes["neuropil"].astype(str).tolist() == conn.edge_attributes["neuropil"].astype(str).tolist()
    assert back.name == conn.name and read_store(store).n_edges == 5


def test_neuprint_table_with_types(tmp_path):
    pd.DataFrame({
        "bodyId_pre": [10, 10, 11, 12], "bodyId_post": [11, 12, 12, 10], "roi": ["EB", "FB", "EB", "EB"],
        "weight": [4, 2, 9, 1], "type_pre": ["EPG", "EPG", "PEN", "Delta7"], "type_post": ["PEN", "Delta7", "Delta7", "EPG"],
    }).to_csv(tmp_path / "neuprint.csv", index=False)
    conn = read_edge_table(tmp_path / "neuprint.csv")
    assert conn.neurons.loc[[10, 11, 12], "cell_type"].tolist() == ["EPG", "PEN", "Delta7"]
    assert conn.edge_attributes["neuropil"].tolist() == ["EB", "FB", "EB", "EB"]
    assert adjacency(conn).weights.sum() == 16


def test_celegans_edge_list(shared_data):
    path = shared_data / "connectomes" / "celegans" / "herm_full_edgelist.csv"
    conn = read_edge_table(path)
    assert conn.n_edges == 4681 + 2698 and (conn.kind == 1).sum() == 2698  # SOURCES.md counts
    assert "AVAL" in set(conn.neuron_ids.tolist())
    assert int(conn.count[conn.kind == 0].sum()) == 27019  # SOURCES.md: 27,019 chemical synapses


def test_layout_detection():
    assert detect_layout(["pre_root_id", "post_root_id", "syn_count"]) == "flywire"
    assert detect_layout(["bodyId_pre", "bodyId_post", "weight"]) == "neuprint"
    assert detect_layout(["Source", "Target", "Weight", "Type"]) == "generic"


@pytest.mark.parametrize("table, message", [
    ({"pre_root_id": [1, 2], "post_root_id": [2, 1]}, "syn_count"),
    ({"pre_root_id": [1, None], "post_root_id": [2, 1], "syn_count": [1, 2]}, "integer neuron ids"),
    ({"pre_root_id": [1, 2], "post_root_id": [2, 1], "syn_count": [1, -2]}, ">= 0"),
    ({"pre_root_id": [1, 2], "post_root_id": [2, 1], "syn_count": ["x", 2]}, "numeric"),
    ({"pre_root_id": [1], "post_root_id": [2], "syn_count": [1], "nt_type": ["XYZ"]}, "unknown transmitters"),
    ({"bodyId_pre": [1.5], "bodyId_post": [2], "weight": [1]}, "integer neuron ids"),
    ({"a": [1], "b": [2]}, "columns"),
])
def test_bad_tables_raise_one_line_errors(tmp_path, table, message):
    path = tmp_path / "bad.csv"
    pd.DataFrame(table).to_csv(path, index=False)
    with pytest.raises(NeuralscopeError, match=message) as info:
        read_edge_table(path)
    assert "\n" not in str(info.value)


def test_missing_and_empty_inputs(tmp_path):
    with pytest.raises(NeuralscopeError):
        read_edge_table(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("pre_root_id,post_root_id,syn_count\n")
    with pytest.raises(NeuralscopeError, match="at least one edge"):
        read_edge_table(tmp_path / "empty.csv")
    (tmp_path / "folder").mkdir()
    with pytest.raises(NeuralscopeError, match="store folder"):
        read_edge_table(tmp_path / "folder")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(NeuralscopeError):
        read_edge_table(tmp_path / "broken.parquet")


def test_shipped_celegans_copy_reads_the_same():
    from neuralscope.circuits.celegans import DATA_FILE

    conn = read_edge_table(DATA_FILE)
    assert (conn.kind == 0).sum() == 4681 and int(conn.count[conn.kind == 0].sum()) == 27019


def test_neuron_table_joins_flywire_edges(tmp_path):
    neurons = pd.DataFrame({"root_id": [ROOT_A, ROOT_B, ROOT_C], "super_class": ["central", "optic", "central"]})
    neurons.to_csv(tmp_path / "classification.csv", index=False)
    conn = read_edge_table(_flywire(tmp_path / "c.csv"), neurons=tmp_path / "classification.csv")
    assert conn.neurons.loc[[ROOT_A, ROOT_B, ROOT_C], "super_class"].tolist() == ["central", "optic", "central"]
    assert "nt_type" in conn.neurons.columns
    with pytest.raises(NeuralscopeError):
        read_edge_table(tmp_path / "c.csv", neurons=tmp_path / "missing.csv")
