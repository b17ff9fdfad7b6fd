"""Connectome graphs at FlyWire scale: tables in, sparse analyses out.

- :func:`read_edge_table` (FlyWire, neuPrint, C. elegans and generic edge lists),
  :func:`write_store` / :func:`read_store` (a parquet store that loads 15 M edges in about a second);
- :func:`adjacency`: the CSR views every analysis shares;
- :func:`degree_table`, :func:`degree_distributions`, :func:`reciprocity`;
- :func:`motif_analysis`: dyad and triad census (exact, or sampled with standard
  errors on very large graphs) against configuration-model null samples;
- :func:`block_connectivity` by cell type, transmitter or any label;
- :func:`k_hop`, :func:`shortest_path_lengths`, :func:`shortest_path`;
- :func:`louvain` communities;
- :func:`analyze_connectome`: all of the above, timed (``neuralscope connectome stats``).
"""

from neuralscope.connectomics.graph.adjacency import Adjacency, adjacency
from neuralscope.connectomics.graph.analysis import GraphAnalysis, analyze_connectome
from neuralscope.connectomics.graph.blocks import BlockConnectivity, block_connectivity, group_labels
from neuralscope.connectomics.graph.community import Communities, louvain, modularity
from neuralscope.connectomics.graph.motifs import (
    CONNECTED_TRIADS,
    DYAD_NAMES,
    TRIAD_NAMES,
    MotifResult,
    TriadCensus,
    configuration_null,
    dyad_census,
    motif_analysis,
    triad_census,
)
from neuralscope.connectomics.graph.paths import k_hop, shortest_path, shortest_path_lengths
from neuralscope.connectomics.graph.stats import degree_distributions, degree_table, reciprocity
from neuralscope.connectomics.graph.tables import detect_layout, read_edge_table, read_store, write_store

__all__ = [
    "Adjacency", "BlockConnectivity", "CONNECTED_TRIADS", "Communities", "DYAD_NAMES", "GraphAnalysis", "MotifResult",
    "TRIAD_NAMES", "TriadCensus", "adjacency", "analyze_connectome", "block_connectivity", "configuration_null",
    "degree_distributions", "degree_table", "detect_layout", "dyad_census", "group_labels", "k_hop", "louvain",
    "modularity", "motif_analysis", "read_edge_table", "read_store", "reciprocity", "shortest_path",
    "shortest_path_lengths", "triad_census", "write_store",
]
