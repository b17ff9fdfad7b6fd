"""Block-wise flood filling (``segment_ffn_volume(block_shape=...)``): consecutive ids, objects
stitched across block faces, a quality bound against the one-block run, the voxel limit applied
per block, input validation and a process scheduler (the segmenter pickles without its model).

The FFN is slow on a CPU, so one small simulated volume (12x32x32, ~9 cells) is segmented once as
one block and once in two blocks, shared by the tests (module-scoped fixtures).
"""

import pickle

import numpy as np
import pytest

from neuralscope.connectomics.ffn_segment import OVERLAP_WIDTH, FFNSegmenter, segment_ffn_volume
from neuralscope.connectomics.metrics import evaluate_segmentation
from neuralscope.core.errors import NeuralscopeError
from neuralscope.datasets.em import simulate_em_volume

#: Two blocks along y; with the default halo (8) each block is 12x24x32 voxels.
BLOCK = (12, 16, 32)
FACE_Y = 16

#: Allowed ARAND increase of the block-wise run over the one-block run. With ~9 objects, one
#: wrong face merge of two mid-sized cells moves ARAND by ~0.1; on four simulated seeds the
#: increase was at most +0.10 (and down to -0.10), so 0.15 catches broken stitching (merging
#: everything touching a face, or joining nothing) without flagging one extra merge.
ARAND_TOLERANCE = 0.15


@pytest.fixture(scope="module")
def vol():
    return simulate_em_volume((12, 32, 32), n_synapses=0, random_state=3)


@pytest.fixture(scope="module")
def one_block(vol, tmp_path_factory):
    result, info = segment_ffn_volume(vol.raw, tmp_path_factory.mktemp("ffn_one") / "seg.zarr", device="cpu")
    return result.load(), result, info


@pytest.fixture(scope="module")
def two_blocks(vol, tmp_path_factory):
    # The cap is below the volume but above one block with its halo: block-wise runs are
    # limited per block, not as a whole.
    result, info = segment_ffn_volume(vol.raw, tmp_path_factory.mktemp("ffn_bw") / "seg.zarr", device="cpu",
                                      block_shape=BLOCK, max_voxels=vol.raw.size - 1)
    return result.load(), result, info


def test_one_block_info_is_unchanged(one_block, vol):
    seg, result, info = one_block
    assert result.n_blocks == 1 and result.n_face_merges == 0
    assert info["n_blocks"] == 1 and info["n_face_merges"] == 0
    assert info["block_shape"] == list(vol.raw.shape) and info["halo"] == [0, 0, 0]
    assert info["segmented_fraction"] == pytest.approx(np.count_nonzero(seg) / seg.size)


def test_blockwise_ids_info_and_stitching(two_blocks, vol):
    seg, result, info = two_blocks
    assert seg.dtype == np.uint64 and seg.shape == vol.raw.shape
    ids = np.unique(seg[seg > 0])
    np.testing.assert_array_equal(ids, np.arange(1, len(ids) + 1))  # consecutive 1..n, 0 = unsegmented
    assert result.n_segments == len(ids) >= 2
    assert info["n_blocks"] == result.n_blocks == 2
    assert info["block_shape"] == list(BLOCK)
    assert info["halo"] == [8, 8, 8]  # the shipped network's FOV is 17^3: half-width 8
    assert info["n_face_merges"] == result.n_face_merges > 0  # stitching joined objects across the face
    assert info["segmented_fraction"] == pytest.approx(np.count_nonzero(seg) / seg.size)
    assert info["segmented_fraction"] > 0.3


def test_object_crossing_the_face_has_one_id(two_blocks, vol):
    """The truth cell with most voxels on both sides of the face carries the same (majority) id on
    both sides; without stitching its two halves would have ids from different blocks."""
    seg = two_blocks[0]
    truth = vol.labels
    below, above = truth[:, FACE_Y - 4:FACE_Y], truth[:, FACE_Y:FACE_Y + 4]
    crossing = np.intersect1d(np.unique(below[below > 0]), np.unique(above[above > 0]))
    assert len(crossing)
    cell = max(crossing, key=lambda c: min(np.count_nonzero(below == c), np.count_nonzero(above == c)))

    def majority(sl: slice) -> int:
        values = seg[:, sl][truth[:, sl] == cell]
        values = values[values > 0].astype(np.int64)
        assert values.size, "the cell is not segmented near the face"
        return int(np.bincount(values).argmax())

    assert majority(slice(FACE_Y - 4, FACE_Y)) == majority(slice(FACE_Y, FACE_Y + 4))
    # Labels on the two planes at the face agree about as often as in the one-block run.
    a, b = seg[:, FACE_Y - 1], seg[:, FACE_Y]
    both = (a > 0) & (b > 0)
    assert both.any() and (a[both] == b[both]).mean() > 0.5


def test_blockwise_quality_close_to_one_block(one_block, two_blocks, vol):
    one = evaluate_segmentation(one_block[0], vol.labels).adapted_rand_error
    blockwise = evaluate_segmentation(two_blocks[0], vol.labels).adapted_rand_error
    assert blockwise <= one + ARAND_TOLERANCE, (blockwise, one)


def test_voxel_cap_applies_per_block(vol, tmp_path):
    out = tmp_path / "seg.zarr"
    # 12 x 24 x 32 = 9,216 voxels in the largest block (core 12x16x32 + halo 8 along y).
    with pytest.raises(NeuralscopeError, match=r"per block, core \+ halo") as err:
        segment_ffn_volume(vol.raw, out, device="cpu", block_shape=BLOCK, max_voxels=9_215)
    assert "9,216 voxels" in str(err.value)
    with pytest.raises(NeuralscopeError, match="at most 1,000 voxels for --model ffn"):
        segment_ffn_volume(vol.raw, out, device="cpu", max_voxels=1_000)  # one block: the whole volume
    assert not out.exists()


@pytest.mark.parametrize("kwargs, needle", [
    ({"block_shape": (0, 16, 16)}, "block_shape"),
    ({"block_shape": (12, 16)}, "block_shape"),
    ({"block_shape": 2.5}, "block_shape"),
    ({"block_shape": "12,16,16"}, "block_shape"),
    ({"block_shape": (True, 16, 16)}, "block_shape"),
    ({"block_shape": BLOCK, "halo": (-1, 8, 8)}, "halo"),
    ({"block_shape": BLOCK, "halo": (8, OVERLAP_WIDTH - 1, 8)}, "halo"),  # y is cut: too thin to match faces
    ({"halo": 8}, "halo"),  # a halo without blocks
    ({"block_shape": BLOCK, "n_workers": 0}, "n_workers"),
])
def test_bad_block_and_halo_are_errors(vol, tmp_path, kwargs, needle):
    out = tmp_path / "seg.zarr"
    with pytest.raises(NeuralscopeError, match=needle):
        segment_ffn_volume(vol.raw, out, device="cpu", **kwargs)
    assert not out.exists()


def test_size_helpers():
    from neuralscope.connectomics.ffn_segment import _largest_block, _three_sizes

    assert _three_sizes(4, "halo", 0) == (4, 4, 4)
    assert _three_sizes(np.array([1, 2, 3]), "block_shape", 1) == (1, 2, 3)
    # Interior blocks see the halo on both sides; border blocks are clipped at the volume.
    assert _largest_block((12, 32, 32), (12, 16, 32), (8, 8, 8)) == (12, 24, 32)
    assert _largest_block((10, 30, 30), (10, 10, 30), (0, 3, 0)) == (10, 16, 30)


def test_segmenter_pickles_without_its_model():
    segmenter = FFNSegmenter(device="cpu", consensus="split")
    segmenter.model()  # loaded: the pickle must not carry it
    copy = pickle.loads(pickle.dumps(segmenter))
    assert copy._loaded is None and segmenter._loaded is not None
    assert (copy.weights, copy.consensus, copy.device) == (None, "split", "cpu")
    assert copy.settings() == segmenter.settings()  # reloads on first use


def test_process_scheduler_gives_the_same_partition(two_blocks, vol, tmp_path):
    """One worker process (one core): the blocks are pickled to it and segmented there."""
    result, info = segment_ffn_volume(vol.raw, tmp_path / "seg.zarr", device="cpu", block_shape=BLOCK,
                                      scheduler="processes", n_workers=1)
    assert info["n_blocks"] == 2
    np.testing.assert_array_equal(result.load(), two_blocks[0])
