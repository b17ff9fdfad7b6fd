"""FFNModel: shapes, identity at initialisation, config checks, weights round trip."""

from __future__ import annotations

import pytest
import torch

from neuralscope.connectomics.ffn.model import FFNConfig, FFNModel, load_ffn_model, save_ffn_model
from neuralscope.core.errors import NeuralscopeError

SMALL = FFNConfig(fov=(9, 11, 13), delta=(2, 3, 3), channels=4, depth=2)


def test_output_shape_matches_fov_and_batch():
    model = FFNModel(SMALL)
    raw, pom = torch.randn(3, 1, 9, 11, 13), torch.randn(3, 1, 9, 11, 13)
    assert model(raw, pom).shape == (3, 1, 9, 11, 13)


def test_untrained_network_is_identity_on_the_pom():
    model = FFNModel(SMALL)
    pom = torch.randn(2, 1, 9, 11, 13)
    torch.testing.assert_close(model(torch.randn_like(pom), pom), pom)


def test_default_config_is_narrow():
    cfg = FFNConfig()
    n = sum(p.numel() for p in FFNModel(cfg).parameters())
    assert cfg.fov == (17, 17, 17) and cfg.depth == 8 and n < 200_000


@pytest.mark.parametrize("kwargs", [{"fov": (8, 9, 9)}, {"fov": (9, 9)}, {"delta": (5, 2, 2), "fov": (9, 9, 9)},
                                    {"channels": 0}])
def test_bad_config_raises(kwargs):
    with pytest.raises(NeuralscopeError):
        FFNConfig(**kwargs)


def test_save_load_round_trip_is_plain_data(tmp_path):
    torch.manual_seed(0)
    model = FFNModel(SMALL)
    torch.nn.init.normal_(model.head.weight)  # make the output depend on the weights
    path = save_ffn_model(model, tmp_path / "w.pt", meta={"step": 3})
    blob = torch.load(path, weights_only=True)  # no pickled code needed
    assert blob["config"]["fov"] == [9, 11, 13] and blob["meta"] == {"step": 3}
    loaded, meta = load_ffn_model(path)
    assert loaded.config == model.config and meta["step"] == 3
    x = torch.randn(1, 1, 9, 11, 13)
    torch.testing.assert_close(loaded(x, x), model(x, x))


def test_same_seed_same_initialisation():
    torch.manual_seed(7)
    a = FFNModel(SMALL)
    torch.manual_seed(7)
    b = FFNModel(SMALL)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_load_bad_file_raises(tmp_path):
    with pytest.raises(NeuralscopeError):
        load_ffn_model(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(NeuralscopeError):
        load_ffn_model(bad)
    torch.save({"config": {"fov": [9, 9, 9]}, "state_dict": {}}, tmp_path / "partial.pt")
    with pytest.raises(NeuralscopeError):
        load_ffn_model(tmp_path / "partial.pt")
