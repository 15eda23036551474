"""The batched augmentation against torchvision's per-image transforms."""
import math

import pytest
import torch
from scipy import stats
from torchvision.transforms import v2 as T
from torchvision.transforms.v2 import functional as TF

from ssllib.data import augment as A


@pytest.fixture
def rgb():
    g = torch.Generator().manual_seed(0)
    return torch.rand(6, 3, 20, 24, generator=g)


def test_crop_resize_matches_torchvision_resized_crop(rgb):
    boxes = [(0, 0, 20, 24), (3, 5, 10, 8), (7, 2, 13, 19), (0, 16, 6, 8)]
    for i, (top, left, h, w) in enumerate(boxes):
        img = rgb[i]
        ours = A.crop_resize(img[None], *(torch.tensor([float(v)]) for v in (top, left, h, w)), size=16)[0]
        ref = TF.resized_crop(img, top, left, h, w, [16, 16], antialias=False)
        assert torch.allclose(ours, ref, atol=1e-5), (top, left, h, w)
        flipped = A.crop_resize(img[None], *(torch.tensor([float(v)]) for v in (top, left, h, w)), size=16,
                                flip=torch.tensor([True]))[0]
        assert torch.allclose(flipped, TF.horizontal_flip(ref), atol=1e-5)


@pytest.mark.parametrize("name", ["brightness", "contrast", "saturation", "hue"])
def test_colour_adjustments_match_torchvision(rgb, name):
    factors = torch.tensor([0.6, 0.9, 1.0, 1.2, 1.4, 0.75]) if name != "hue" else \
        torch.tensor([-0.1, -0.05, 0.0, 0.03, 0.1, 0.5])
    ours = getattr(A, f"adjust_{name}")(rgb, factors)
    for i in range(len(rgb)):
        ref = getattr(TF, f"adjust_{name}")(rgb[i], factors[i].item())
        assert torch.allclose(ours[i], ref, atol=2e-5), (name, i)


def test_hsv_round_trip(rgb):
    assert torch.allclose(A.hsv_to_rgb(A.rgb_to_hsv(rgb)), rgb, atol=1e-5)


def test_gaussian_blur_matches_torchvision(rgb):
    sigma = torch.tensor([0.1, 0.5, 1.0, 1.5, 2.0, 0.7])
    ours = A.gaussian_blur(rgb, sigma, 7)
    for i in range(len(rgb)):
        ref = TF.gaussian_blur(rgb[i], [7, 7], [sigma[i].item()] * 2)
        assert torch.allclose(ours[i], ref, atol=1e-5)


def test_grayscale_images_keep_brightness_and_contrast_and_skip_the_rest():
    gray = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    f = torch.tensor([0.5, 1.0, 1.3, 0.8])
    assert torch.equal(A.adjust_saturation(gray, f), gray)
    assert torch.equal(A.adjust_hue(gray, f - 1), gray)
    for i in range(4):
        assert torch.allclose(A.adjust_contrast(gray, f)[i], TF.adjust_contrast(gray[i], f[i].item()), atol=1e-6)


def test_color_jitter_applies_each_sample_in_its_own_order(rgb):
    n = len(rgb)
    b, c, s, h = torch.full((n,), 1.3), torch.full((n,), 0.6), torch.full((n,), 1.4), torch.full((n,), 0.08)
    orders = torch.stack([torch.randperm(4, generator=torch.Generator().manual_seed(i)) for i in range(n)])
    apply = torch.tensor([True, True, True, False, True, True])
    ours = A.color_jitter(rgb, b, c, s, h, orders, apply)
    fns = [lambda x: TF.adjust_brightness(x, 1.3), lambda x: TF.adjust_contrast(x, 0.6),
           lambda x: TF.adjust_saturation(x, 1.4), lambda x: TF.adjust_hue(x, 0.08)]
    for i in range(n):
        ref = rgb[i]
        if apply[i]:
            for op in orders[i].tolist():
                ref = fns[op](ref)
        assert torch.allclose(ours[i], ref, atol=3e-5), i


def test_random_shift_flip_is_a_zero_padded_crop():
    img = torch.arange(2 * 5 * 6, dtype=torch.float32).view(1, 2, 5, 6) + 1
    g = torch.Generator().manual_seed(3)
    out = A.random_shift_flip(img.repeat(64, 1, 1, 1), padding=2, generator=g, flip_p=0.5)
    padded = torch.nn.functional.pad(img, (2, 2, 2, 2))
    crops = {padded[0, :, i:i + 5, j:j + 6] for i in range(5) for j in range(5)}
    crops = [c for c in crops] + [c.flip(-1) for c in crops]
    for o in out:
        assert any(torch.equal(o, c) for c in crops)


def _torchvision_boxes(n, h, w, scale, ratio):
    torch.manual_seed(0)
    img = torch.zeros(1, h, w)
    boxes = [T.RandomResizedCrop.get_params(img, list(scale), list(ratio)) for _ in range(n)]
    return torch.tensor(boxes, dtype=torch.float32).unbind(1)


@pytest.mark.parametrize("height,width,scale", [(28, 28, (0.2, 1.0)), (32, 32, (0.08, 1.0)), (20, 40, (0.2, 1.0))])
def test_crop_boxes_have_torchvisions_distribution(height, width, scale):
    """Area fraction, aspect ratio and centre position: two-sample KS tests against torchvision."""
    n, ratio = 4000, (3 / 4, 4 / 3)
    top, left, h, w = A.sample_crop_boxes(n, height, width, scale, ratio, torch.Generator().manual_seed(1))
    t_top, t_left, t_h, t_w = _torchvision_boxes(n, height, width, scale, ratio)
    ours = {"area": h * w / (height * width), "aspect": w / h, "cy": top + h / 2, "cx": left + w / 2}
    ref = {"area": t_h * t_w / (height * width), "aspect": t_w / t_h, "cy": t_top + t_h / 2, "cx": t_left + t_w / 2}
    for key in ours:
        p = stats.ks_2samp(ours[key].numpy(), ref[key].numpy()).pvalue
        assert p > 1e-3, f"{key}: KS p={p:.2e}"
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= height).all() and (left + w <= width).all()
    assert (h >= 1).all() and (w >= 1).all()


def test_crop_boxes_would_fail_a_wrong_distribution():
    """The KS check above can fail: a sampler with the wrong scale range is caught."""
    top, left, h, w = A.sample_crop_boxes(4000, 28, 28, (0.5, 1.0), (3 / 4, 4 / 3), torch.Generator().manual_seed(1))
    t_top, t_left, t_h, t_w = _torchvision_boxes(4000, 28, 28, (0.2, 1.0), (3 / 4, 4 / 3))
    p = stats.ks_2samp((h * w).numpy(), (t_h * t_w).numpy()).pvalue
    assert p < 1e-6


def test_view_augmentation_rates_match_its_probabilities():
    """Flip, jitter, grayscale and blur fire at their configured rates (binomial 4σ bands)."""
    n = 4000
    images = (torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(2)) * 255).to(torch.uint8)
    aug = A.ViewAugmentation(size=16, crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), jitter_p=0.0,
                             grayscale_p=0.2, blur_p=0.0, flip_p=0.5)
    out = aug(images, (0.0,) * 3, (1.0,) * 3, torch.Generator().manual_seed(3))
    x = images.float() / 255
    flipped = torch.isclose(out, x.flip(-1), atol=1e-5).flatten(1).all(1)
    same = torch.isclose(out, x, atol=1e-5).flatten(1).all(1)
    gray = (out[:, 0] == out[:, 1]).flatten(1).all(1) & (out[:, 1] == out[:, 2]).flatten(1).all(1)
    band = 4 * math.sqrt(n * 0.25)
    assert abs(flipped.sum().item() + (gray & ~same & ~flipped).sum().item() / 2 - n / 2) < band + n * 0.02
    assert abs(gray.sum().item() - 0.2 * n) < 4 * math.sqrt(n * 0.16)
    assert (flipped | same | gray).all()


def test_view_augmentation_is_reproducible_and_independent_per_sample():
    images = (torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    same = images[:1].repeat(8, 1, 1, 1)
    aug = A.ViewAugmentation(28)
    a = aug(same, (0.3,), (0.3,), torch.Generator().manual_seed(5))
    b = aug(same, (0.3,), (0.3,), torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    distinct = {tuple(v.flatten()[:50].tolist()) for v in a}
    assert len(distinct) == 8  # one image, eight different views
    assert a.shape == (8, 1, 28, 28) and a.dtype == torch.float32


def test_sync_free_path_equals_the_picked_rows_path():
    """The GPU path (every row through every step, the picked ones kept) gives the CPU path's
    images: same draws, same result up to rounding."""
    images = (torch.rand(24, 3, 20, 20, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    out = {}
    for sync_free in (False, True):
        aug = A.ViewAugmentation(size=16, blur_p=0.5, grayscale_p=0.3, jitter_p=0.8, sync_free=sync_free)
        out[sync_free] = aug(images, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), torch.Generator().manual_seed(7))
    torch.testing.assert_close(out[True], out[False], atol=1e-5, rtol=1e-5)
    assert out[True].std() > 0.1


def test_solarize_matches_torchvision(rgb):
    torch.testing.assert_close(A.solarize(rgb), TF.solarize(rgb, 0.5))
    x = torch.tensor([0.0, 0.49, 0.5, 0.8, 1.0]).view(1, 1, 1, 5)
    torch.testing.assert_close(A.solarize(x), torch.tensor([0.0, 0.49, 0.5, 0.2, 0.0]).view(1, 1, 1, 5))


def test_solarisation_comes_last_and_draws_nothing_at_p_zero():
    """At p 1 the view is the p-0 view solarised before normalisation; at p 0 the generator
    ends where it would without the option (so views without it keep their random stream)."""
    images = (torch.rand(8, 3, 12, 12, generator=torch.Generator().manual_seed(1)) * 255).to(torch.uint8)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    plain_g, sol_g = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    plain = A.ViewAugmentation(size=10, sync_free=False)(images, mean, std, plain_g)
    solarised = A.ViewAugmentation(size=10, solarize_p=1.0, sync_free=False)(images, mean, std, sol_g)
    m, s = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
    torch.testing.assert_close(solarised, A.normalize(A.solarize(plain * s + m), mean, std), atol=1e-5, rtol=0)
    reference = torch.Generator().manual_seed(3)
    A.ViewAugmentation(size=10, sync_free=False)(images, mean, std, reference)
    assert torch.equal(plain_g.get_state(), reference.get_state())
    assert not torch.equal(sol_g.get_state(), reference.get_state())


def test_the_second_view_takes_its_own_blur_and_solarisation():
    from ssllib.data.registry import load_dataset
    from ssllib.selfsup.build import views_of
    from ssllib.selfsup.config import RunConfig

    data = load_dataset("digits")
    same = RunConfig.from_dict(dict(dataset="digits", lr=0.1))
    assert callable(views_of(same, data, 8))  # one augmentation for both views
    byol = same.replace(blur_p=1.0, view2_blur_p=0.1, view2_solarize_p=0.2, jitter=[0.4, 0.4, 0.2, 0.1])
    first, second = (view.args[0] for view in views_of(byol, data, 8))
    assert (first.blur_p, first.solarize_p, second.blur_p, second.solarize_p) == (1.0, 0.0, 0.1, 0.2)
    assert first.jitter == second.jitter == (0.4, 0.4, 0.2, 0.1)
    assert first.crop_scale == second.crop_scale and first.grayscale_p == second.grayscale_p


@pytest.mark.parametrize("blur_p, solarize_p", [(1.0, 0.0), (0.1, 0.2)])  # BYOL's view 1, then view 2
def test_blur_and_solarisation_fire_at_each_views_rates(blur_p, solarize_p):
    """Measured with every other step off, on images whose top half is white (it stays near 1
    under any blur, so a solarised image has no pixel above ½) and bottom half noise (any blur
    with σ ≥ 1 px changes it): binomial 4σ bands."""
    n = 4000
    images = (torch.rand(n, 1, 16, 16, generator=torch.Generator().manual_seed(4)) * 255).to(torch.uint8)
    images[:, :, :8] = 255
    aug = A.ViewAugmentation(size=16, crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), jitter_p=0.0, grayscale_p=0.0,
                             flip_p=0.0, blur_p=blur_p, blur_sigma=(1.0, 2.0), solarize_p=solarize_p)
    out = aug(images, (0.0,), (1.0,), torch.Generator().manual_seed(5))
    x = images.float() / 255
    solarised = out.flatten(1).amax(1) <= 0.5 + 1e-6
    same = lambda a, b: torch.isclose(a, b, atol=1e-4).flatten(1).all(1)  # noqa: E731
    blurred = ~(same(out, x) | same(out, A.solarize(x)))                  # neither the input nor it solarised
    for fired, p in ((blurred, blur_p), (solarised, solarize_p)):
        band = 4 * math.sqrt(n * p * (1 - p)) + 1
        assert abs(fired.sum().item() - p * n) <= band, (fired.sum().item(), p * n)
