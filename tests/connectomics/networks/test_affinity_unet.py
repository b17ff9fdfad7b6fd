"""The affinity U-Net: targets, shapes, tiled prediction, determinism, training."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neuralscope.connectomics.networks import (  # noqa: E402
    AffinityTrainer,
    UNet3d,
    UNetConfig,
    labels_to_affinities,
    predict_affinities,
    receptive_radius,
)
from neuralscope.core.errors import NeuralscopeError  # noqa: E402


def voronoi_volume(shape=(24, 32, 32), n_cells=12, seed=0):
    """Cells as Voronoi regions with dark one-voxel membranes between them (labels, raw uint8)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 1, (n_cells, 3)) * np.array(shape)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1).reshape(-1, 3)
    d = ((grid[:, None, :] - centres[None]) ** 2).sum(-1)
    labels = (np.argmin(d, 1) + 1).reshape(shape).astype(np.int64)
    boundary = np.zeros(shape, bool)
    for axis in range(3):
        diff = np.diff(labels, axis=axis) != 0
        sl = [slice(None)] * 3
        sl[axis] = slice(1, None)
        boundary[tuple(sl)] |= diff
    raw = np.where(boundary, 60.0, 190.0) + rng.normal(0, 12, shape)
    return labels, np.clip(raw, 0, 255).astype(np.uint8)


def small_model(out_channels=3, seed=0, widths=(4, 8)):
    torch.manual_seed(seed)
    pool = ((2, 2, 2),) * (len(widths) - 1)
    return UNet3d(UNetConfig(out_channels=out_channels, widths=widths, pool=pool)).eval()


def test_labels_to_affinities_known_values():
    labels = np.array([[[1, 1, 2], [1, 1, 2]]])  # shape (1, 2, 3)
    aff, mask = labels_to_affinities(labels, [(1, 0, 0), (0, 1, 0), (0, 0, 1)])
    assert aff.shape == mask.shape == (3, 1, 2, 3)
    assert mask[0].sum() == 0  # no z neighbour in a single slice
    np.testing.assert_array_equal(aff[2, 0], [[0, 1, 0], [0, 1, 0]])  # x edges: 1|1 same, 1|2 cut
    np.testing.assert_array_equal(mask[2, 0], [[0, 1, 1], [0, 1, 1]])
    np.testing.assert_array_equal(aff[1, 0], [[0, 0, 0], [1, 1, 1]])
    # unlabelled voxels (0) mask their edges
    aff0, mask0 = labels_to_affinities(np.array([[[0, 1, 1]]]), [(0, 0, 1)])
    np.testing.assert_array_equal(mask0[0, 0, 0], [0, 0, 1])


def test_unet_output_shape_and_anisotropic_option():
    model = small_model(out_channels=9, widths=(4, 8, 16))
    out = model(torch.zeros(2, 1, 16, 24, 32))
    assert out.shape == (2, 9, 16, 24, 32)
    aniso = UNet3d(UNetConfig(out_channels=3, widths=(4, 8), pool=((1, 2, 2),), kernel=(1, 3, 3)))
    assert aniso.config.total_pool == (1, 2, 2)
    assert aniso(torch.zeros(1, 1, 5, 8, 8)).shape == (1, 3, 5, 8, 8)
    cfg = UNetConfig.from_dict(aniso.config.to_dict())
    assert cfg == aniso.config


@pytest.mark.parametrize("pool,kernel,channels_last", [((2, 2, 2), (3, 3, 3), True), ((2, 2, 2), (3, 3, 3), False),
                                                         ((1, 2, 2), (1, 3, 3), True)])
def test_inference_path_equals_training_graph(pool, kernel, channels_last):
    """Without gradients on a CPU the U-Net runs oneDNN convolutions, a split decoder convolution and
    depth-to-space up-sampling; it must compute the function the training graph computes."""
    torch.manual_seed(3)
    model = UNet3d(UNetConfig(out_channels=9, widths=(4, 8, 16), pool=(pool, pool), kernel=kernel)).eval()
    for p in model.parameters():  # non-zero biases everywhere, so a dropped or doubled bias shows
        torch.nn.init.uniform_(p, -0.3, 0.3)
    x = torch.randn(2, 1, 8, 24, 16)
    if channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
        x = x.to(memory_format=torch.channels_last_3d)
    with torch.no_grad():
        fast = model(x)
    for p in model.parameters():
        p.requires_grad_(False)
    with torch.enable_grad():  # grad mode on: the training graph (nn modules, torch.cat, ConvTranspose3d)
        reference = model(x)
    assert fast.shape == reference.shape == (2, 9, 8, 24, 16)
    np.testing.assert_allclose(fast.numpy(), reference.numpy(), rtol=1e-5, atol=1e-5)
    assert float(reference.abs().max()) > 0.1


def test_tiled_prediction_equals_untiled():
    _, raw = voronoi_volume((21, 37, 30))
    model = small_model(out_channels=9)
    whole = predict_affinities(raw, model, tile_shape=(64, 64, 64), margin=0, device="cpu", channels="all")
    assert whole.shape == (9, 21, 37, 30)
    tiled = predict_affinities(raw, model, tile_shape=(8, 12, 10), margin=max(receptive_radius(model.config)),
                               device="cpu", channels="all")
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    # Without enough context the tile borders do differ: the check above is not vacuous.
    rough = predict_affinities(raw, model, tile_shape=(8, 12, 10), margin=0, device="cpu", channels="all")
    assert np.abs(rough - whole).max() > 1e-4


def test_test_time_flips_are_equivariant_and_tile_exactly():
    from neuralscope.connectomics.networks.affinities import _unflip_affinities
    from neuralscope.connectomics.networks.targets import DEFAULT_OFFSETS

    _, raw = voronoi_volume((24, 32, 32))
    torch.manual_seed(0)
    offsets = [list(o) for o in DEFAULT_OFFSETS]
    model = UNet3d(UNetConfig(out_channels=9, widths=(4, 8), pool=((2, 2, 2),), extra={"offsets": offsets})).eval()
    kw = dict(device="cpu", channels="all", test_time_flips=8)
    ref = predict_affinities(raw, model, tile_shape=(64, 64, 64), margin=0, **kw)
    # Averaging over all eight mirrorings: the prediction on a mirrored volume, mirrored back with the
    # edge shift, is the same prediction (away from the k voxels at either end of a mirrored axis, whose
    # edges leave the volume in one of the two frames).
    flipped = predict_affinities(np.ascontiguousarray(raw[::-1, :, ::-1]), model, tile_shape=(64, 64, 64),
                                 margin=0, **kw)
    back = _unflip_affinities(flipped, (0, 2), offsets)
    np.testing.assert_allclose(back[:, 9:-9, :, 9:-9], ref[:, 9:-9, :, 9:-9], atol=1e-5)
    # The shift matters: without it the z edges are off by one voxel.
    assert np.abs(np.flip(flipped, (1, 3))[0, 9:-9, :, 9:-9] - ref[0, 9:-9, :, 9:-9]).max() > 1e-3
    tiled = predict_affinities(raw, model, tile_shape=(8, 16, 16), margin=max(receptive_radius(model.config)), **kw)
    np.testing.assert_allclose(tiled, ref, atol=1e-5)
    single = predict_affinities(raw, model, tile_shape=(64, 64, 64), margin=0, device="cpu", channels="all")
    assert np.abs(single - ref).max() > 1e-4  # averaging changed something
    with pytest.raises(NeuralscopeError):
        predict_affinities(raw, model, test_time_flips=3)


def test_dask_input_and_out_array_match_numpy():
    da = pytest.importorskip("dask.array")
    _, raw = voronoi_volume((16, 24, 24))
    model = small_model()
    ref = predict_affinities(raw, model, tile_shape=(8, 8, 8), margin=10, device="cpu")
    out = np.zeros_like(ref)
    got = predict_affinities(da.from_array(raw, chunks=(8, 8, 8)), model, tile_shape=(8, 8, 8), margin=10,
                             device="cpu", out=out)
    assert got is out
    np.testing.assert_allclose(out, ref, atol=1e-6)
    assert ref.min() >= 0 and ref.max() <= 1


def test_bad_input_is_a_neuralscope_error():
    model = small_model()
    with pytest.raises(NeuralscopeError, match="raw"):
        predict_affinities(np.zeros((4, 4)), model, device="cpu")
    with pytest.raises(NeuralscopeError, match="non-empty"):
        predict_affinities(np.zeros((0, 4, 4)), model, device="cpu")
    with pytest.raises(NeuralscopeError, match="channels"):
        predict_affinities(np.zeros((4, 4, 4)), model, device="cpu", channels="some")


def _train(seed, steps):
    labels, raw = voronoi_volume((24, 32, 32), seed=1)
    raw_std = ((raw - raw.mean()) / raw.std()).astype(np.float32)
    torch.manual_seed(seed)
    model = UNet3d(UNetConfig(out_channels=3, widths=(4, 8), pool=((2, 2, 2),)))
    trainer = AffinityTrainer(model, [(1, 0, 0), (0, 1, 0), (0, 0, 1)], patch=(16, 16, 16), batch_size=2,
                              lr=1e-2, loss_margin=2, seed=seed)
    losses = [trainer.step(raw_std, labels) for _ in range(steps)]
    return model, losses, trainer


def test_training_reduces_loss_and_is_seeded():
    model_a, losses_a, trainer = _train(seed=3, steps=40)
    assert np.mean(losses_a[-8:]) < 0.75 * np.mean(losses_a[:8])
    model_b, losses_b, _ = _train(seed=3, steps=40)
    assert losses_a == losses_b
    for pa, pb in zip(model_a.parameters(), model_b.parameters()):
        assert torch.equal(pa, pb)
    # resuming from a state dict continues the same random stream
    state = trainer.state_dict()
    _, _, other = _train(seed=4, steps=1)
    other.load_state_dict(state)
    assert other.rng.bit_generator.state == trainer.rng.bit_generator.state


def test_ensemble_averages_member_probabilities_and_loads_from_one_file(tmp_path):
    from neuralscope.connectomics.networks import load_affinity_model
    from neuralscope.connectomics.networks.unet import UNetEnsemble

    a, b = small_model(seed=1), small_model(seed=2)
    x = torch.randn(1, 1, 8, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        pa, pb = torch.sigmoid(a(x)), torch.sigmoid(b(x))
        pe = torch.sigmoid(UNetEnsemble([a, b])(x))
        p1 = torch.sigmoid(UNetEnsemble([a])(x))
    assert float((pa - pb).abs().max()) > 1e-3  # the members differ, so the mean is a real test
    np.testing.assert_allclose(pe.numpy(), ((pa + pb) / 2).numpy(), atol=1e-5)
    np.testing.assert_allclose(p1.numpy(), pa.numpy(), atol=1e-5)

    path = tmp_path / "ensemble.pt"
    torch.save({"config": a.config.to_dict(), "members": [a.state_dict(), b.state_dict()], "raw_mean": 0.0,
                "raw_std": 1.0, "agglomeration": {"threshold": 0.5}}, path)
    model, meta = load_affinity_model(path)
    assert isinstance(model, UNetEnsemble) and len(model.members) == 2
    assert "members" not in meta and meta["agglomeration"] == {"threshold": 0.5}
    _, raw = voronoi_volume(shape=(16, 16, 16))
    aff = predict_affinities(raw, model, tile_shape=(8, 16, 16), margin=8, device="cpu")
    single = [predict_affinities(raw, m, tile_shape=(8, 16, 16), margin=8, device="cpu") for m in (a, b)]
    np.testing.assert_allclose(aff, (single[0] + single[1]) / 2, atol=1e-5)

    with pytest.raises(ValueError):
        UNetEnsemble([a, small_model(seed=3, widths=(4, 8, 16))])
    with pytest.raises(ValueError):
        UNetEnsemble([])


def test_bfloat16_inference_is_close_to_float32_and_deterministic(monkeypatch):
    # On a CPU without bfloat16 instructions predict_affinities falls back to float32 (tested below);
    # claim support here so that the autocast path itself runs (emulated, slower) on every machine.
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    labels, raw = voronoi_volume(shape=(16, 32, 32))
    model = small_model(seed=4)
    full = predict_affinities(raw, model, tile_shape=(16, 32, 32), margin=8, device="cpu")
    half = predict_affinities(raw, model, tile_shape=(16, 32, 32), margin=8, device="cpu", precision="bfloat16")
    again = predict_affinities(raw, model, tile_shape=(16, 32, 32), margin=8, device="cpu", precision="bfloat16")
    assert half.dtype == np.float32 and half.shape == full.shape
    np.testing.assert_array_equal(half, again)
    diff = np.abs(half - full)
    assert 0 < float(diff.mean()) < 0.01 and float(diff.max()) < 0.1
    with pytest.raises(NeuralscopeError):
        predict_affinities(raw, model, device="cpu", precision="float16")


def test_bfloat16_falls_back_to_float32_on_cpus_without_it(monkeypatch):
    from neuralscope.connectomics.networks import affinities

    _, raw = voronoi_volume(shape=(8, 16, 16))
    model = small_model(seed=5)
    full = predict_affinities(raw, model, tile_shape=(8, 16, 16), margin=8, device="cpu")
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert affinities.effective_precision("bfloat16", "cpu") == "float32"
    assert affinities.effective_precision("float32", "cpu") == "float32"
    half = predict_affinities(raw, model, tile_shape=(8, 16, 16), margin=8, device="cpu", precision="bfloat16")
    np.testing.assert_array_equal(half, full)
