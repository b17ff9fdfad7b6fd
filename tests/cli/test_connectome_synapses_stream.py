"""`neuralscope connectome synapses` streams raw and segmentation in slabs of sections: its result is
the in-memory library result, and no read ever spans the whole volume."""

import json

import numpy as np
import pandas as pd
import pytest

from neuralscope.cli.main import main
from neuralscope.connectomics import volumes
from neuralscope.connectomics.synapses import assign_partners, detect_synapses_classical, match_synapses
from neuralscope.datasets.em import simulate_em_volume

N_Z = 30


@pytest.fixture(scope="module")
def em(tmp_path_factory):
    folder = tmp_path_factory.mktemp("em_syn")
    vol = simulate_em_volume((N_Z, 64, 64), n_synapses=20, random_state=5)
    volumes.write_zarr(vol.raw, folder / "raw.zarr", chunks=(4, 32, 32))
    volumes.write_zarr(vol.labels, folder / "labels.zarr", chunks=(4, 32, 32))
    vol.synapses.to_csv(folder / "truth.csv", index=False)
    return folder, vol


class _SlabGuard:
    """Array-like over a lazy volume that records the z-extent of every read and refuses whole reads."""

    def __init__(self, arr, reads):
        self._arr, self._reads = arr, reads
        self.shape, self.dtype, self.ndim = arr.shape, arr.dtype, arr.ndim

    def __getitem__(self, key):
        first = key[0] if isinstance(key, tuple) else key
        extent = 1 if isinstance(first, (int, np.integer)) else len(range(*first.indices(self.shape[0])))
        self._reads.append(extent)
        return np.asarray(self._arr[key])

    def compute(self):
        raise AssertionError("the whole volume was read")

    def __array__(self, *args, **kwargs):
        raise AssertionError("the whole volume was read")


def _cli(folder, tmp_path, capsys, detector, slab, monkeypatch=None, reads=None, extra=()):
    if monkeypatch is not None:
        real = volumes.open_volume
        monkeypatch.setattr(volumes, "open_volume", lambda *a, **k: _SlabGuard(real(*a, **k), reads))
    out = tmp_path / f"syn-{detector}-{slab}"
    code = main(["-q", "connectome", "synapses", str(folder / "raw.zarr"), "--segmentation", str(folder / "labels.zarr"),
                 "--truth", str(folder / "truth.csv"), "--detector", detector, "--slab", str(slab), "--out", str(out),
                 "--json", *extra])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(stdout), pd.read_csv(out / "synapses.csv"), pd.read_csv(out / "edges.csv")


def _compare(table, expected, atol):
    assert len(table) == len(expected) > 3
    np.testing.assert_allclose(table[["z", "y", "x"]].to_numpy(), expected[["z", "y", "x"]].to_numpy(), atol=atol)
    for col in ("pre_segment", "post_segment", "valid"):
        np.testing.assert_array_equal(table[col].to_numpy(), expected[col].to_numpy(), err_msg=col)


def test_classical_streamed_cli_equals_in_memory_library(em, tmp_path, capsys, monkeypatch):
    folder, vol = em
    reads: list[int] = []
    res, table, edges = _cli(folder, tmp_path, capsys, "classical", 5, monkeypatch, reads)
    found = detect_synapses_classical(np.asarray(vol.raw))  # whole volume in memory
    expected = assign_partners(found, np.asarray(vol.labels), radius=6.0)
    _compare(table, expected, atol=0)
    np.testing.assert_allclose(table["score"].to_numpy(), expected["score"].to_numpy(), rtol=1e-6)
    match = match_synapses(found, vol.synapses, tolerance=5.0)
    assert res["precision"] == pytest.approx(match.precision) and res["recall"] == pytest.approx(match.recall)
    assert res["n_assigned"] == int(expected["valid"].sum()) == edges["weight"].sum()
    # Slabs of 5 sections plus the reach (Gaussian 4, minimum filter 3, partner radius 6 + 1 for an even shift).
    assert reads and max(reads) <= 5 + 2 * 6 + 1 < N_Z


def test_network_streamed_cli_equals_in_memory_library(em, tmp_path, capsys, monkeypatch):
    from neuralscope.connectomics.commands import SYNAPSE_HALO_SLICES
    from neuralscope.connectomics.networks.synapses import detect_synapses

    folder, vol = em
    reads: list[int] = []
    # The shipped detector sees 64 x 64 sections down-sampled 4x: a low threshold gives it detections here.
    res, table, _ = _cli(folder, tmp_path, capsys, "network", 4, monkeypatch, reads, ["--threshold", "0.2"])
    found = detect_synapses(np.asarray(vol.raw), threshold=0.2, slab_slices=N_Z)  # one slab: the whole volume
    expected = assign_partners(found, np.asarray(vol.labels), radius=6.0)
    _compare(table, expected, atol=1e-4)
    assert res["detector"] == "network" and res["n_synapses"] == len(expected)
    assert max(reads) <= 4 + 2 * SYNAPSE_HALO_SLICES < N_Z


def test_slab_size_does_not_change_the_result(em, tmp_path, capsys):
    folder, _ = em
    _, a, edges_a = _cli(folder, tmp_path, capsys, "classical", 1)
    _, b, edges_b = _cli(folder, tmp_path, capsys, "classical", 64)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(edges_a, edges_b)


def test_bad_slab_exit_2(em, tmp_path, capsys):
    folder, _ = em
    out = tmp_path / "bad"
    code = main(["-q", "connectome", "synapses", str(folder / "raw.zarr"), "--segmentation", str(folder / "labels.zarr"),
                 "--slab", "0", "--out", str(out), "--json"])
    _, err = capsys.readouterr()
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--slab" in err and not out.exists()


@pytest.mark.parametrize("slab", [1, 3, 7, 100])
def test_classical_detector_slabs_are_bit_identical_to_whole_volume(slab):
    """Library level: the streamed form (exact median / MAD) equals the in-memory one, also anisotropic."""
    import dask.array as da

    vol = simulate_em_volume((21, 40, 56), n_synapses=12, anisotropy=2.0, random_state=7)
    whole = detect_synapses_classical(vol.raw, sampling=(2.0, 1.0, 1.0))
    lazy = da.from_array(vol.raw, chunks=(5, 20, 28))
    streamed = detect_synapses_classical(lazy, sampling=(2.0, 1.0, 1.0), slab_slices=slab)
    assert len(whole) > 3
    pd.testing.assert_frame_equal(streamed, whole)


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 4001])
def test_streamed_median_is_numpy_median(n):
    from neuralscope.connectomics.synapses import _streamed_median

    rng = np.random.default_rng(n)
    for values in (rng.normal(size=n).astype(np.float32), rng.integers(0, 3, n).astype(np.float32),
                   np.full(n, 2.5, np.float32)):
        parts = np.array_split(values, 5)
        assert _streamed_median(lambda: iter(parts), n, bins=32) == float(np.median(values))
