import pytest
import torch
import torchvision

from ssllib.nets.resnet import SplitBatchNorm, build_backbone, count_parameters, mlp_head


@pytest.mark.parametrize("name,factory", [("resnet18", torchvision.models.resnet18),
                                          ("resnet50", torchvision.models.resnet50)])
def test_imagenet_stem_is_torchvisions_network(name, factory):
    ours = build_backbone(name, "imagenet", 64, 3)
    theirs = factory()
    theirs.fc = torch.nn.Identity()
    ours.load_state_dict(theirs.state_dict())  # same names and shapes
    assert count_parameters(ours) == count_parameters(theirs)
    ours.eval(), theirs.eval()
    x = torch.randn(2, 3, 64, 64)
    assert torch.allclose(ours(x), theirs(x), atol=1e-5)


@pytest.mark.parametrize("name,dim", [("resnet18", 512), ("resnet50", 2048)])
def test_cifar_stem_keeps_resolution_and_feature_dims(name, dim):
    net = build_backbone(name, "cifar", 64, 3)
    assert net.conv1.kernel_size == (3, 3) and net.conv1.stride == (1, 1)
    assert isinstance(net.maxpool, torch.nn.Identity)
    assert net.feature_dim == dim
    feats = {}
    net.layer1.register_forward_hook(lambda m, i, o: feats.update(layer1=o.shape))
    out = net(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, dim)
    assert feats["layer1"][-2:] == (32, 32)


def test_width_multiplier_and_grayscale_input():
    net = build_backbone("resnet18", "cifar", 16, 1)
    assert net.feature_dim == 128
    assert net(torch.randn(3, 1, 28, 28)).shape == (3, 128)
    # Parameters scale with width squared (the stem and fc aside): width 16 is ~1/16 of width 64.
    ratio = count_parameters(build_backbone("resnet18", "cifar", 64, 1)) / count_parameters(net)
    assert 15 < ratio < 17


def test_resnet18_cifar_parameter_count():
    # The CIFAR ResNet-18 (3×3 stem, no fc) has 11,168,832 parameters.
    assert count_parameters(build_backbone("resnet18", "cifar", 64, 3)) == 11_168_832


def test_mlp_head_shape():
    head = mlp_head(512, 128)
    assert head(torch.randn(4, 512)).shape == (4, 128)
    assert [type(m).__name__ for m in head] == ["Linear", "ReLU", "Linear"]


def test_split_batch_norm_uses_sub_batch_statistics():
    bn = SplitBatchNorm(3, num_splits=2, affine=False)
    x = torch.randn(8, 3, 4, 4)
    out = bn(x)
    # Samples 0, 2, 4, 6 form one sub-batch; 1, 3, 5, 7 the other.
    for part in (slice(0, None, 2), slice(1, None, 2)):
        ref = torch.nn.functional.batch_norm(x[part], None, None, training=True)
        assert torch.allclose(out[part], ref, atol=1e-5)
    with pytest.raises(ValueError, match="divisible"):
        bn(torch.randn(7, 3, 4, 4))
    bn.eval()
    assert bn(x).shape == x.shape


def test_unknown_backbone_names_the_choices():
    with pytest.raises(ValueError, match="resnet18, resnet50"):
        build_backbone("resnet19")


@pytest.mark.parametrize("width,safe", [(4, False), (8, False), (16, True), (64, True)])
def test_channels_last_is_avoided_where_onednn_miscomputes(width, safe):
    from ssllib.engine.devices import channels_last_is_safe, place_model, uses_channels_last
    net = build_backbone("resnet18", "cifar", width, 1)
    assert channels_last_is_safe(net, torch.device("cpu")) is safe
    placed, used = place_model(net, torch.device("cpu"), channels_last=True)
    assert used is safe and uses_channels_last(placed) is safe


def test_channels_last_gradients_equal_the_default_format():
    torch.manual_seed(0)
    net = build_backbone("resnet18", "cifar", 16, 1)
    x = torch.randn(8, 1, 16, 16)
    grads = []
    for fmt in (torch.contiguous_format, torch.channels_last):
        model = net.to(memory_format=fmt)
        model.zero_grad()
        model(x.contiguous(memory_format=fmt)).pow(2).sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for a, b in zip(*grads):  # the same up to summation order
        assert (a - b).norm() <= 1e-4 * a.norm() + 1e-6
