"""Watershed + mean-affinity agglomeration, mutex watershed, the boundary entry point, kernels."""

import numpy as np
import pytest

from neuralscope.connectomics._kernels import chamfer_distance, seeded_watershed
from neuralscope.connectomics.agglomeration import (
    RegionGraph,
    affinities_to_boundary,
    affinities_to_segmentation,
    agglomerate,
    boundary_to_affinities,
    boundary_to_segmentation,
    region_graph,
)
from neuralscope.connectomics.boundaries import ClassicalBoundary
from neuralscope.connectomics.metrics import evaluate_segmentation, variation_of_information
from neuralscope.core.errors import NeuralscopeError
from neuralscope.datasets.em import simulate_em_volume


def _cubes():
    """Four boxes separated by one-voxel membranes (boundary 1), known truth."""
    truth = np.zeros((10, 20, 20), np.int64)
    truth[:, :10, :10], truth[:, :10, 10:], truth[:, 10:, :10], truth[:, 10:, 10:] = 1, 2, 3, 4
    boundary = np.zeros(truth.shape, np.float32)
    boundary[:, 9:11, :] = 1.0
    boundary[:, :, 9:11] = 1.0
    return boundary, truth


def test_affinity_convention_and_round_trip():
    b = np.zeros((3, 4, 5), np.float32)
    b[1, 2, 3] = 1.0
    aff = boundary_to_affinities(b)
    assert aff.shape == (3, 3, 4, 5)
    # affinity[d, v] couples v with v - e_d: both edges touching the membrane voxel are cut.
    assert aff[0, 1, 2, 3] == 0 and aff[0, 2, 2, 3] == 0 and aff[0, 1, 1, 1] == 1
    assert aff[2, 1, 2, 3] == 0 and aff[2, 1, 2, 4] == 0
    back = affinities_to_boundary(aff)
    assert back[1, 2, 3] == 1.0 and back[0, 0, 0] == 0.0


def test_four_cubes_are_recovered_exactly():
    boundary, truth = _cubes()
    seg = boundary_to_segmentation(boundary, threshold=0.5)
    interior = boundary == 0
    assert seg.dtype == np.uint64 and seg.min() >= 1
    assert variation_of_information(seg[interior], truth[interior]) == (0.0, 0.0)
    assert len(np.unique(seg)) == 4


def test_threshold_controls_merging():
    boundary, truth = _cubes()
    boundary[boundary == 1] = 0.9  # membranes with affinity 0.1 across
    boundary[:, 9:11, :10] = 0.3  # a weak membrane between cubes 1 and 3
    aff = boundary_to_affinities(boundary)
    strict = affinities_to_segmentation(aff, threshold=0.8, seed_threshold=0.2)
    loose = affinities_to_segmentation(aff, threshold=0.5, seed_threshold=0.2)
    everything = affinities_to_segmentation(aff, threshold=0.0, seed_threshold=0.2)
    assert len(np.unique(strict)) == 4
    assert len(np.unique(loose)) == 3 and loose[0, 0, 0] == loose[0, 19, 0]
    assert len(np.unique(everything)) == 1


def test_agglomerate_rescores_merged_regions_by_their_mean():
    # 1-2 strong; 2-3 and 1-3 faces: after merging 1+2, the face to 3 has mean (0.9*1 + 0.2*9)/10 = 0.27
    graph = RegionGraph(np.array([1, 2, 1], np.uint64), np.array([2, 3, 3], np.uint64),
                        np.array([0.95 * 10, 0.9, 0.2 * 9]), np.array([10, 1, 9]))
    merged = agglomerate(graph, threshold=0.5)
    roots = {k: v for k, v in merged.items()}
    assert len(roots) == 1 and set(roots) | set(roots.values()) == {1, 2}  # 3 stays apart
    # Static (single-linkage) merging would have joined 3 through the 0.9 edge.
    assert len(agglomerate(graph, threshold=0.1)) == 2


def test_region_graph_counts_faces():
    frag = np.ones((2, 2, 4), np.uint64)
    frag[..., 2:] = 2
    aff = np.full((3, 2, 2, 4), 0.25, np.float32)
    g = region_graph(frag, aff)
    assert len(g) == 1 and g.n_faces[0] == 4 and g.mean_affinity[0] == pytest.approx(0.25)


def test_mutex_watershed_separates_cubes():
    pytest.importorskip("mwatershed")
    boundary, truth = _cubes()
    seg = affinities_to_segmentation(boundary_to_affinities(boundary), threshold=0.5, method="mutex")
    interior = boundary == 0
    assert variation_of_information(seg[interior], truth[interior]) == (0.0, 0.0)


def test_simulated_volume_scores():
    vol = simulate_em_volume((32, 96, 96), random_state=4)
    boundary = ClassicalBoundary().fit_transform(vol.raw)
    seg = boundary_to_segmentation(boundary, threshold=0.5)
    scores = evaluate_segmentation(seg, vol.labels)
    fragments_only = boundary_to_segmentation(boundary, threshold=1.0)
    assert scores.adapted_rand_error < 0.35
    assert scores.vi_split < evaluate_segmentation(fragments_only, vol.labels).vi_split  # merging helps


def test_kernels_match_library_versions():
    from scipy import ndimage as ndi
    from skimage.segmentation import watershed

    rng = np.random.default_rng(0)
    relief = rng.permutation(np.arange(16 * 16 * 16) % 256).reshape(16, 16, 16).astype(np.uint8)
    relief = np.maximum(relief, 1)
    markers = np.zeros(relief.shape, np.uint64)
    markers[2, 2, 2], markers[12, 12, 12], markers[2, 13, 7] = 1, 2, 3
    ours = seeded_watershed(relief, markers)
    ref = watershed(relief, markers.astype(np.int64))
    assert (ours > 0).all()
    assert (ours == ref).mean() > 0.9  # ties on equal levels may be broken differently
    inside = np.ones((9, 9, 9), bool)
    inside[4, 4, 4] = False
    d = chamfer_distance(inside)
    exact = ndi.distance_transform_edt(inside)
    assert np.abs(d - exact).max() < 0.35 * exact.max()
    assert d[4, 4, 4] == 0 and d[4, 4, 5] == 1


def test_bad_input():
    with pytest.raises(NeuralscopeError, match="shape"):
        affinities_to_segmentation(np.zeros((2, 4, 4, 4)))
    with pytest.raises(NeuralscopeError, match="finite"):
        affinities_to_segmentation(np.full((3, 2, 2, 2), np.nan))
    with pytest.raises(NeuralscopeError, match="method"):
        affinities_to_segmentation(np.ones((3, 2, 2, 2)), method="nope")
    with pytest.raises(NeuralscopeError, match="threshold"):
        agglomerate(RegionGraph.concatenate([]), threshold=2.0)


def test_small_objects_merge_on_the_graph_as_on_the_voxels():
    from neuralscope.connectomics.agglomeration import _apply_mapping, _merge_small, watershed_fragments

    vol = simulate_em_volume(shape=(16, 48, 48), n_cells=10, random_state=4)
    aff = boundary_to_affinities(ClassicalBoundary().fit_transform(vol.raw))
    frag = watershed_fragments(affinities_to_boundary(aff), seed_threshold=0.5)
    graph = region_graph(frag, aff)
    mapping = agglomerate(graph, 0.9)  # a high threshold leaves many small objects
    objects = _apply_mapping(frag, mapping)
    sizes = np.bincount(objects.ravel())
    min_size = int(np.percentile(sizes[sizes > 0], 60))
    on_voxels = _merge_small(objects, aff, min_size)
    on_graph = _merge_small(frag, aff, min_size, graph, mapping)
    assert variation_of_information(on_voxels, on_graph) == pytest.approx((0.0, 0.0), abs=1e-12)
    after = np.bincount(on_graph.ravel())
    assert len(np.unique(on_graph)) < len(np.unique(objects))  # something merged
    assert (after[after > 0] < min_size).sum() < (sizes[sizes > 0] < min_size).sum()


def _reference_agglomerate(u, v, sums, counts, threshold):
    """Plain-Python hierarchical mean-affinity merging: the compiled kernel must agree exactly."""
    import heapq

    parent, adjacency, heap = {}, {}, []

    def find(x):
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for a, b, s, n in zip(u, v, sums, counts):
        entry = [s, n]
        adjacency.setdefault(a, {})[b] = entry
        adjacency.setdefault(b, {})[a] = entry
        if s / n > threshold:
            heap.append((-s / n, a, b))
    heapq.heapify(heap)
    while heap:
        neg, a, b = heapq.heappop(heap)
        if find(a) != a or find(b) != b or b not in adjacency.get(a, {}):
            continue
        s, n = adjacency[a][b]
        if abs(s / n + neg) > 1e-12:
            continue
        if len(adjacency[a]) < len(adjacency[b]):
            a, b = b, a
        parent[b] = a
        del adjacency[a][b]
        for c, (sc, nc) in adjacency.pop(b).items():
            if c == a:
                continue
            del adjacency[c][b]
            entry = adjacency[a].setdefault(c, [0.0, 0])
            adjacency[c][a] = entry
            entry[0] += sc
            entry[1] += nc
            if entry[0] / entry[1] > threshold:
                heapq.heappush(heap, (-entry[0] / entry[1], a, c))
    return {x: find(x) for x in parent}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_compiled_agglomeration_matches_reference(seed):
    rng = np.random.default_rng(seed)
    n_nodes, n_edges = 300, 1500
    pairs = np.unique(np.sort(rng.integers(1, n_nodes, (n_edges, 2)) * 7, axis=1), axis=0)  # sparse ids
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    counts = rng.integers(1, 6, len(pairs))
    sums = np.round(rng.uniform(0, 1, len(pairs)) * 4) / 4 * counts  # many exactly tied means
    graph = RegionGraph(pairs[:, 0].astype(np.uint64), pairs[:, 1].astype(np.uint64), sums.astype(np.float64),
                        counts.astype(np.int64))
    for threshold in (0.2, 0.5, 0.8):
        got = agglomerate(graph, threshold)
        want = _reference_agglomerate(pairs[:, 0].tolist(), pairs[:, 1].tolist(), sums.tolist(), counts.tolist(),
                                      threshold)
        assert got == want
        assert len(got) > 0
