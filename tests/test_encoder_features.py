"""The encoder on frozen pretrained features (``EncoderConfig(features="effnet")``)."""

from __future__ import annotations

import pytest
import torch

from stylex.models import Encoder, EncoderConfig
from stylex.models.discriminator import FEATURE_CHANNELS, FEATURE_LAYERS, feature_dim
from stylex.perceptual.backbone import get_feature_extractor
from stylex.training import TrainConfig


def effnet_encoder(resolution: int = 16, channels: int = 3, w_dim: int = 8) -> Encoder:
    torch.manual_seed(0)
    return Encoder(
        EncoderConfig(resolution=resolution, img_channels=channels, w_dim=w_dim, features="effnet")
    )


def test_feature_layout_matches_the_extractor():
    ext = get_feature_extractor("cpu")
    assert tuple(ext.channels[i] for i in FEATURE_LAYERS) == FEATURE_CHANNELS
    for res in (16, 32, 64, 128):
        enc = effnet_encoder(res)
        f = enc.pretrained_features(torch.rand(2, 3, res, res) * 2 - 1)
        assert f.shape == (2, feature_dim(res)), res
    assert feature_dim(16) == feature_dim(64) < feature_dim(128)  # small images are upsampled


def test_state_holds_the_head_and_statistics_only(tmp_path):
    enc = effnet_encoder()
    keys = set(enc.state_dict())
    assert keys == {"feat_mean", "feat_std", "head.0.weight", "head.0.bias",
                    "head.1.weight", "head.1.bias"}  # fmt: skip
    x = torch.rand(12, 3, 16, 16) * 2 - 1
    enc.fit_feature_stats(x, batch=5)
    enc.save_pretrained(tmp_path)
    back = Encoder.from_pretrained(tmp_path)
    assert back.config.features == "effnet"
    assert torch.equal(back(x), enc(x))


def test_fit_feature_stats_standardises_the_training_features():
    enc = effnet_encoder(channels=1)
    x = torch.rand(40, 1, 16, 16) * 2 - 1  # grey images are read as RGB
    raw = enc.pretrained_features(x)
    assert raw.abs().mean() > 0.05
    enc.fit_feature_stats(x, batch=16)
    z = (raw - enc.feat_mean) / enc.feat_std
    varying = raw.std(0, unbiased=False) > 0.05
    assert z.mean(0).abs().max() < 1e-3
    assert torch.allclose(z.std(0, unbiased=False)[varying], torch.ones(int(varying.sum())),
                          atol=1e-3)  # fmt: skip
    assert (enc.feat_std >= 0.01).all()


def test_gradients_reach_the_image_and_head_but_not_the_extractor():
    enc = effnet_encoder()
    x = (torch.rand(3, 3, 16, 16) * 2 - 1).requires_grad_(True)
    enc(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # E(G(w)) can train G through E
    assert all(p.grad is not None for p in enc.parameters())
    assert all(p.grad is None for p in get_feature_extractor("cpu", size=64).parameters())
    assert sum(p.numel() for p in enc.parameters()) == (feature_dim(16) + 1) * 256 + 257 * 8


def test_a_trained_encoder_has_no_feature_statistics_and_old_configs_load():
    enc = Encoder(EncoderConfig(resolution=16, img_channels=1, w_dim=8))
    assert "feat_mean" not in enc.state_dict()
    enc.fit_feature_stats(torch.zeros(2, 1, 16, 16))  # a no-op
    cfg = EncoderConfig.from_dict({"resolution": 16, "img_channels": 1, "w_dim": 8})
    assert cfg.features == "trained"  # encoder.json files written before the option existed


def test_unknown_encoder_features_are_refused():
    with pytest.raises(ValueError, match="trained, effnet"):
        EncoderConfig(features="resnet")
    with pytest.raises(ValueError, match="encoder_features"):
        TrainConfig(encoder_features="resnet")
