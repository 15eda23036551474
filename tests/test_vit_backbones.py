"""The timm vision-transformer backbones of ssllib.nets.vit: shapes, heads, position embeddings,
size checks and stochastic depth. Everything is built with random weights (no download)."""
import math

import pytest
import torch

from ssllib.nets.vit import TRANSFORMERS, build_transformer, sincos_2d_position_embedding

SMALL = ["vit_tiny_small_image", "swin_tiny_small_image"]


@pytest.fixture(scope="module")
def full_size():
    """The paper-size models at 224 px, built once for the module."""
    return {name: build_transformer(name, 3, 224) for name in ("vit_small", "deit_small", "swin_tiny")}


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("image_size", [16, 32])
@pytest.mark.parametrize("in_channels", [1, 3])
def test_small_presets_give_pooled_features(name, image_size, in_channels):
    net = build_transformer(name, in_channels, image_size).eval()
    with torch.no_grad():
        out = net(torch.randn(2, in_channels, image_size, image_size))
    assert out.shape == (2, net.feature_dim) and net.feature_dim == 192


@pytest.mark.parametrize("name,dim", [("vit_micro_small_image", 96), ("swin_micro_small_image", 64)])
@pytest.mark.parametrize("image_size", [16, 28, 32])
@pytest.mark.parametrize("in_channels", [1, 3])
def test_micro_presets_give_pooled_features(name, dim, image_size, in_channels):
    net = build_transformer(name, in_channels, image_size).eval()
    with torch.no_grad():
        out = net(torch.randn(2, in_channels, image_size, image_size))
    assert out.shape == (2, dim) and net.feature_dim == dim


@pytest.mark.parametrize("name,dim", [("vit_small", 384), ("deit_small", 384), ("swin_tiny", 768)])
def test_full_size_models_at_224_px(full_size, name, dim):
    net = full_size[name].eval()
    assert net.feature_dim == dim
    with torch.no_grad():
        assert net(torch.randn(2, 3, 224, 224)).shape == (2, dim)


@pytest.mark.parametrize("name,dim", [("vit_small", 384), ("deit_small", 384), ("swin_tiny", 768)])
def test_full_size_models_take_one_channel(name, dim):
    net = build_transformer(name, 1, 64).eval()  # small image: only the channel count matters here
    assert net.patch_embed.proj.in_channels == 1
    with torch.no_grad():
        assert net(torch.randn(1, 1, 64, 64)).shape == (1, dim)


def test_vit_small_heads_and_fixed_sincos_position_embedding(full_size):
    vit, deit = full_size["vit_small"], full_size["deit_small"]
    assert vit.blocks[0].attn.num_heads == 12 and deit.blocks[0].attn.num_heads == 6
    assert not vit.pos_embed.requires_grad and deit.pos_embed.requires_grad
    assert vit.pos_embed.shape == (1, 1 + 14 * 14, 384)
    assert torch.equal(vit.pos_embed[0, 0], torch.zeros(384))  # class token: no position
    assert torch.allclose(vit.pos_embed[0, 1:], sincos_2d_position_embedding(14, 384))
    assert "pos_embed" not in {n for n, p in vit.named_parameters() if p.requires_grad}


def test_sincos_table_by_hand():
    # 2×2 grid, D = 8: q = 2 channels per block, ω = (1, 1/10000^(1/2)) = (1, 0.01).
    table = sincos_2d_position_embedding(2, 8)
    assert table.shape == (4, 8)
    s1, s2, c1, c2 = math.sin(1), math.sin(0.01), math.cos(1), math.cos(0.01)
    expected = {
        0: [0, 0, 1, 1, 0, 0, 1, 1],              # row 0, column 0
        1: [0, 0, 1, 1, s1, s2, c1, c2],          # row 0, column 1
        2: [s1, s2, c1, c2, 0, 0, 1, 1],          # row 1, column 0
        3: [s1, s2, c1, c2, s1, s2, c1, c2],      # row 1, column 1
    }
    for token, values in expected.items():
        assert torch.allclose(table[token], torch.tensor(values, dtype=torch.float32), atol=1e-6), token


def test_sizes_the_patch_does_not_divide_are_refused():
    with pytest.raises(ValueError, match=r"100.*96 or 112"):
        build_transformer("vit_small", 3, 100)
    with pytest.raises(ValueError, match=r"patch size 4.*30.*28 or 32"):
        build_transformer("swin_tiny", 1, 30)
    for name in SMALL:
        with pytest.raises(ValueError, match=r"20.*16 or 24"):
            build_transformer(name, 1, 20)


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError) as info:
        build_transformer("vit_huge", 3, 224)
    assert "vit_huge" in str(info.value)
    assert all(name in str(info.value) for name in TRANSFORMERS)


def test_drop_path_reaches_the_blocks():
    vit = build_transformer("vit_tiny_small_image", 1, 16, drop_path=0.1)
    assert vit.blocks[-1].drop_path1.drop_prob == pytest.approx(0.1)
    swin = build_transformer("swin_tiny_small_image", 1, 16, drop_path=0.1)
    assert swin.layers[-1].blocks[-1].drop_path1.drop_prob == pytest.approx(0.1)
    # the default is no stochastic depth, although timm's Swin defaults to 0.1
    swin = build_transformer("swin_tiny_small_image", 1, 16)
    assert all(isinstance(b.drop_path1, torch.nn.Identity) for layer in swin.layers for b in layer.blocks)
