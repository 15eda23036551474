"""Batched image augmentation on the training device.

Every function takes a whole batch (N, C, H, W) of floats in [0, 1] and per-sample random
parameters, so one call augments a batch with independent draws for each image, on whatever
device the batch lives on. The draws follow torchvision's per-image transforms (same
distributions, same order of operations); tests compare the two statistically.

Grayscale images (C = 1) are handled as torchvision handles a one-channel image: brightness
and contrast apply; saturation, hue and random grayscale are identities and are skipped.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache, partial

import torch
import torch.nn.functional as F

from ssllib.engine.distributed import draw_rows

# ----------------------------------------------------------------------------- parameters


def sample_crop_boxes(n: int, height: int, width: int, scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3),
                      generator: torch.Generator | None = None, device=None, tries: int = 10):
    """Random-resized-crop boxes, one per sample, as torchvision draws them.

    For each sample: up to ``tries`` draws of area ∈ U(scale)·H·W and log aspect ∈ U(log ratio);
    the first draw whose rounded box fits is kept, with a uniform integer offset; if none fits,
    the centred box with the aspect clamped to ``ratio``. Returns (top, left, h, w), each (n,) float.
    """
    area = height * width
    u = _rand(n, (tries, 2), generator, device)
    target = area * (scale[0] + (scale[1] - scale[0]) * u[..., 0])
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_lo + (log_hi - log_lo) * u[..., 1])
    w = torch.round(torch.sqrt(target * aspect))
    h = torch.round(torch.sqrt(target / aspect))
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.float().argmax(dim=1)  # index of the first box that fits
    found = fits.any(dim=1)
    w = w.gather(1, first[:, None]).squeeze(1)
    h = h.gather(1, first[:, None]).squeeze(1)

    # Fallback: the whole image, cut to the nearest allowed aspect ratio.
    in_ratio = width / height
    if in_ratio < min(ratio):
        fw, fh = width, round(width / min(ratio))
    elif in_ratio > max(ratio):
        fw, fh = round(height * max(ratio)), height
    else:
        fw, fh = width, height
    w = torch.where(found, w, torch.full_like(w, fw))
    h = torch.where(found, h, torch.full_like(h, fh))

    offsets = _rand(n, (2,), generator, device)
    top = torch.floor(offsets[:, 0] * (height - h + 1))
    left = torch.floor(offsets[:, 1] * (width - w + 1))
    top = torch.where(found, top, torch.full_like(top, (height - fh) // 2))
    left = torch.where(found, left, torch.full_like(left, (width - fw) // 2))
    return top, left, h, w


def _rand(n: int, shape: tuple, generator, device) -> torch.Tensor:
    """U[0, 1) of shape (n, *shape): this process's n rows of one draw for the global batch."""
    return draw_rows(lambda rows: torch.rand(rows, *shape, generator=generator, device=device), n)


def _uniform(n: int, low: float, high: float, generator, device) -> torch.Tensor:
    return low + (high - low) * _rand(n, (), generator, device)


def _coin(n: int, p: float, generator, device) -> torch.Tensor:
    return _rand(n, (), generator, device) < p


# ----------------------------------------------------------------------------- geometry


def crop_resize(images: torch.Tensor, top, left, h, w, size: int, flip: torch.Tensor | None = None):
    """Crop box (top, left, h, w) of each image, resize it bilinearly to size×size, mirror where
    ``flip``. One ``grid_sample`` for the batch; edge pixels are clamped as torchvision does.

    Output pixel u samples the source at x = left + (u + ½)·w/size − ½ (pixel centres at integers),
    which in grid_sample's [-1, 1] coordinates is an affine map of the output grid.
    """
    n, _, height, width = images.shape
    sx = w / width
    sy = h / height
    if flip is not None:
        sx = torch.where(flip, -sx, sx)
    theta = torch.zeros(n, 2, 3, device=images.device, dtype=images.dtype)
    theta[:, 0, 0] = sx
    theta[:, 0, 2] = (2 * left + w) / width - 1
    theta[:, 1, 1] = sy
    theta[:, 1, 2] = (2 * top + h) / height - 1
    grid = F.affine_grid(theta, [n, images.shape[1], size, size], align_corners=False)
    lo_x, hi_x = (2 * left + 1) / width - 1, (2 * (left + w) - 1) / width - 1
    lo_y, hi_y = (2 * top + 1) / height - 1, (2 * (top + h) - 1) / height - 1
    grid = torch.stack([grid[..., 0].clamp(lo_x.view(-1, 1, 1), hi_x.view(-1, 1, 1)),
                        grid[..., 1].clamp(lo_y.view(-1, 1, 1), hi_y.view(-1, 1, 1))], dim=-1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_shift_flip(images: torch.Tensor, padding: int, generator=None, flip_p: float = 0.5):
    """RandomCrop(size, padding) with zero padding, then a horizontal flip with ``flip_p``.

    Each image moves by an integer offset in [-padding, padding] per axis; pixels that come
    from outside the image are zero, as with a zero-padded crop.
    """
    n, c, height, width = images.shape
    device = images.device
    shift = draw_rows(lambda rows: torch.randint(-padding, padding + 1, (rows, 2), generator=generator,
                                                 device=device), n)
    flip = _coin(n, flip_p, generator, device)
    ys = torch.arange(height, device=device)
    xs = torch.arange(width, device=device)
    rows = (ys[None, :] + shift[:, :1])  # (n, H)
    cols = (xs[None, :] + shift[:, 1:])  # (n, W)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    valid = ((rows >= 0) & (rows < height))[:, :, None] & ((cols >= 0) & (cols < width))[:, None, :]
    rows = rows.clamp(0, height - 1)
    cols = cols.clamp(0, width - 1)
    flat = (rows[:, :, None] * width + cols[:, None, :]).reshape(n, 1, -1).expand(n, c, -1)
    out = images.reshape(n, c, -1).gather(2, flat).reshape(n, c, height, width)
    return out * valid[:, None].to(out.dtype)


# ----------------------------------------------------------------------------- colour


def to_grayscale(images: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma with torchvision's weights, (N, 1, H, W); one channel is returned as it is."""
    if images.shape[1] == 1:
        return images
    r, g, b = images.unbind(1)
    return (0.2989 * r + 0.587 * g + 0.114 * b).unsqueeze(1)


def _blend(a: torch.Tensor, b: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return (factor.view(-1, 1, 1, 1) * a + (1 - factor.view(-1, 1, 1, 1)) * b).clamp_(0, 1)


def adjust_brightness(images, factor):
    """x·f, clipped."""
    return (images * factor.view(-1, 1, 1, 1)).clamp(0, 1)


def adjust_contrast(images, factor):
    """Blend with the mean grey level of each image: f·x + (1−f)·mean(gray(x))."""
    mean = to_grayscale(images).mean(dim=(1, 2, 3), keepdim=True)
    return _blend(images, mean, factor)


def adjust_saturation(images, factor):
    """Blend with the image's own grayscale: f·x + (1−f)·gray(x)."""
    if images.shape[1] == 1:
        return images
    return _blend(images, to_grayscale(images), factor)


def rgb_to_hsv(images: torch.Tensor) -> torch.Tensor:
    """Hexcone HSV with hue in [0, 1)."""
    r, g, b = images.unbind(1)
    value, argmax = images.max(dim=1)
    chroma = value - images.min(dim=1).values
    grey = chroma == 0
    safe_chroma = torch.where(grey, torch.ones_like(chroma), chroma)
    saturation = torch.where(value > 0, chroma / torch.where(value > 0, value, torch.ones_like(value)),
                             torch.zeros_like(value))
    saturation = torch.where(grey, torch.zeros_like(saturation), saturation)
    # Sector of the hue circle from whichever channel is largest (ties go to r, then g).
    hue = torch.where(argmax == 0, (g - b) / safe_chroma,
                      torch.where(argmax == 1, 2 + (b - r) / safe_chroma, 4 + (r - g) / safe_chroma))
    hue = torch.where(grey, torch.zeros_like(hue), hue)
    hue = torch.remainder(hue / 6, 1.0)
    return torch.stack([hue, saturation, value], dim=1)


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    h, s, v = hsv.unbind(1)
    h6 = h * 6
    sector = torch.floor(h6)
    f = h6 - sector
    sector = torch.remainder(sector, 6).long()
    p = (v * (1 - s)).clamp(0, 1)
    q = (v * (1 - s * f)).clamp(0, 1)
    t = (v * (1 - s * (1 - f))).clamp(0, 1)
    # (r, g, b) for sectors 0..5: (v,t,p) (q,v,p) (p,v,t) (p,q,v) (t,p,v) (v,p,q)
    table_r = torch.stack([v, q, p, p, t, v])
    table_g = torch.stack([t, v, v, q, p, p])
    table_b = torch.stack([p, p, t, v, v, q])
    idx = sector.unsqueeze(0)
    return torch.stack([table_r.gather(0, idx)[0], table_g.gather(0, idx)[0], table_b.gather(0, idx)[0]], dim=1)


def adjust_hue(images, shift):
    """Rotate the hue by ``shift`` (a fraction of the circle, in [-0.5, 0.5])."""
    if images.shape[1] == 1:
        return images
    hsv = rgb_to_hsv(images)
    hue = torch.remainder(hsv[:, 0] + shift.view(-1, 1, 1), 1.0)
    return hsv_to_rgb(torch.stack([hue, hsv[:, 1], hsv[:, 2]], dim=1))


def sync_free_default(device: torch.device) -> bool:
    """Whether to avoid asking the device which rows a random choice picked: on a GPU the
    question stalls the step until the device catches up, so there every row goes through
    each step and the picked ones are kept; on the CPU the question is free and transforming
    only the picked rows is cheaper."""
    return device.type != "cpu"


def color_jitter(images, brightness, contrast, saturation, hue, order, apply, sync_free: bool | None = None):
    """Per-sample ColorJitter: the four adjustments in each sample's own random ``order``
    ((N, 4) permutations of 0 brightness, 1 contrast, 2 saturation, 3 hue), only where ``apply``.
    ``sync_free``: see :func:`sync_free_default` (None: by the device)."""
    ops = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)
    factors = (brightness, contrast, saturation, hue)
    skip = {2, 3} if images.shape[1] == 1 else set()
    out = images.clone()
    sync_free = sync_free_default(images.device) if sync_free is None else sync_free
    for position in range(4):
        for op_id, (op, factor) in enumerate(zip(ops, factors)):
            if op_id in skip:
                continue
            picked = apply & (order[:, position] == op_id)
            if not sync_free:  # transform only the picked rows
                rows = torch.nonzero(picked).squeeze(1)
                if rows.numel():
                    out[rows] = op(out[rows], factor[rows])
            elif op_id == 3:  # no host sync: every row, the picked ones kept
                out = torch.where(picked.view(-1, 1, 1, 1), op(out, factor), out)
            else:  # a factor of 1 leaves a row exactly as it is
                out = op(out, torch.where(picked, factor, torch.ones_like(factor)))
    return out


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Separable Gaussian blur with a per-sample σ and reflect padding (torchvision's kernel:
    exp(−x²/2σ²) on the integer grid of ``kernel_size`` taps, normalised)."""
    n, c, height, width = images.shape
    half = kernel_size // 2
    x = torch.arange(kernel_size, device=images.device, dtype=images.dtype) - half
    kernel = torch.exp(-0.5 * (x[None, :] / sigma[:, None]) ** 2)
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)  # (n·c, k)
    padded = F.pad(images.reshape(1, n * c, height, width), (half, half, half, half), mode="reflect")
    out = F.conv2d(padded, kernel.view(n * c, 1, 1, kernel_size), groups=n * c)
    out = F.conv2d(out, kernel.view(n * c, 1, kernel_size, 1), groups=n * c)
    return out.view(n, c, height, width)


def solarize(images: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Invert the pixels at or above ``threshold``: x ↦ 1 − x where x ≥ threshold (torchvision's
    ``RandomSolarize`` on float images; BYOL's second view uses threshold ½ with p 0.2)."""
    return torch.where(images >= threshold, 1 - images, images)


@lru_cache(maxsize=64)
def _channel_stats(mean: tuple, std: tuple, device: torch.device, dtype: torch.dtype):
    """(mean, std) as (1, C, 1, 1) tensors on ``device``, made once: copying them to a GPU at
    every call would make the host wait."""
    return (torch.tensor(mean, device=device, dtype=dtype).view(1, -1, 1, 1),
            torch.tensor(std, device=device, dtype=dtype).view(1, -1, 1, 1))


def normalize(images: torch.Tensor, mean, std) -> torch.Tensor:
    """(x − mean) / std per channel; ``mean`` and ``std`` are sequences of numbers, or
    (1, C, 1, 1) tensors already on the device."""
    if not isinstance(mean, torch.Tensor):
        mean, std = _channel_stats(tuple(map(float, mean)), tuple(map(float, std)), images.device, images.dtype)
    return (images - mean) / std


# ----------------------------------------------------------------------------- pipelines


@dataclass(frozen=True)
class ViewAugmentation:
    """MoCo-v2's "aug-plus" view: random resized crop, colour jitter, grayscale, blur, flip; and,
    with ``solarize_p`` > 0, BYOL's solarisation after the blur.

    ``blur_kernel`` 0 picks an odd kernel of about a tenth of the output size (23 at 224 px).
    Given a batch of crops already drawn (image-file datasets crop in the loader's workers),
    pass ``crop=False`` and only the photometric part runs.
    """

    size: int
    crop_scale: tuple[float, float] = (0.2, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1)
    jitter_p: float = 0.8
    grayscale_p: float = 0.2
    blur_p: float = 0.5
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    blur_kernel: int = 0
    flip_p: float = 0.5
    solarize_p: float = 0.0
    crop: bool = True
    sync_free: bool | None = None  # see sync_free_default (None: by the device)

    @property
    def kernel_size(self) -> int:
        if self.blur_kernel:
            return self.blur_kernel
        k = int(0.1 * self.size)
        return max(3, k + 1 - k % 2)

    def __call__(self, images: torch.Tensor, mean, std, generator: torch.Generator | None = None):
        """uint8 (N, C, H, W) on any device → normalised float (N, C, size, size)."""
        n, _, height, width = images.shape
        return self.render(images, self.draw(n, height, width, generator, images.device), mean, std)

    def draw(self, n: int, height: int, width: int, generator: torch.Generator | None = None,
             device=None) -> "ViewDraws":
        """Every random choice for ``n`` images of height × width, in one fixed order (the
        pixels never feed back into a draw, so drawing first changes nothing)."""
        top = left = h = w = flip = None
        if self.crop:
            top, left, h, w = sample_crop_boxes(n, height, width, self.crop_scale, self.crop_ratio, generator, device)
            flip = _coin(n, self.flip_p, generator, device)
        b, ct, s, hu = self.jitter
        jitter = _coin(n, self.jitter_p, generator, device)
        order = _rand(n, (4,), generator, device).argsort(dim=1)
        factors = (_uniform(n, max(0, 1 - b), 1 + b, generator, device),
                   _uniform(n, max(0, 1 - ct), 1 + ct, generator, device),
                   _uniform(n, max(0, 1 - s), 1 + s, generator, device),
                   _uniform(n, -hu, hu, generator, device))
        gray = _coin(n, self.grayscale_p, generator, device)
        blur = _coin(n, self.blur_p, generator, device)
        sigma = _uniform(n, self.blur_sigma[0], self.blur_sigma[1], generator, device)
        # No draw at p 0, so views without solarisation keep their random stream.
        solar = _coin(n, self.solarize_p, generator, device) if self.solarize_p > 0 else None
        return ViewDraws(top, left, h, w, flip, jitter, order, factors, gray, blur, sigma, solar)

    def render(self, images: torch.Tensor, d: "ViewDraws", mean, std) -> torch.Tensor:
        """The view of ``images`` (uint8) under the draws ``d``: a function of its inputs only.
        Sync-free (see :func:`sync_free_default`), every row goes through every step and the
        drawn rows are kept, with no data-dependent shape: what ``torch.compile`` can fuse."""
        sync_free = sync_free_default(images.device) if self.sync_free is None else self.sync_free
        x = images.float() / 255
        if self.crop:
            x = crop_resize(x, d.top, d.left, d.height, d.width, self.size, d.flip)
        x = color_jitter(x, *d.factors, order=d.order, apply=d.jitter, sync_free=sync_free)
        if x.shape[1] == 3 and (sync_free or d.gray.any()):
            x = torch.where(d.gray.view(-1, 1, 1, 1), to_grayscale(x).expand_as(x), x)
        if self.kernel_size > 1 and not sync_free:
            rows = torch.nonzero(d.blur).squeeze(1)
            if rows.numel():
                x[rows] = gaussian_blur(x[rows], d.sigma[rows], self.kernel_size)
        elif self.kernel_size > 1:
            x = torch.where(d.blur.view(-1, 1, 1, 1), gaussian_blur(x, d.sigma, self.kernel_size), x)
        if d.solarize is not None:
            x = torch.where(d.solarize.view(-1, 1, 1, 1), solarize(x), x)
        return normalize(x, mean, std)


@dataclass(frozen=True)
class ViewDraws:
    """One batch's random choices for :class:`ViewAugmentation`, each (N,) unless noted; the
    crop fields are None where the loader cropped."""

    top: torch.Tensor | None
    left: torch.Tensor | None
    height: torch.Tensor | None
    width: torch.Tensor | None
    flip: torch.Tensor | None
    jitter: torch.Tensor                 # whether colour jitter applies
    order: torch.Tensor                  # (N, 4): the order of brightness, contrast, saturation, hue
    factors: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
    gray: torch.Tensor
    blur: torch.Tensor
    sigma: torch.Tensor
    solarize: torch.Tensor | None        # None where solarize_p is 0 (nothing was drawn)


class CompiledViews:
    """A :class:`ViewAugmentation` whose pixel work is one ``torch.compile`` graph on the device
    types in ``devices``, called as the augmentation is: (uint8 batch, mean, std, generator) →
    views. The draws stay eager (a compiled graph cannot take a ``torch.Generator``), so for one
    generator state the views are the sync-free augmentation's up to floating-point rounding;
    ``render`` compiles once per input shape (the first call pays for it).

    Elsewhere the plain augmentation runs: on a 2-core CPU the compiled graph made 2,925 views/s
    against 10,431 for the eager path, which transforms only the drawn rows
    (``python -m ssllib.bench.augment``, batch 256, 32 px; benchmarks/README.md)."""

    def __init__(self, augmentation: ViewAugmentation, mode: str | None = None, devices: tuple[str, ...] = ("cuda",)):
        self.eager = augmentation
        self.augmentation = replace(augmentation, sync_free=True)
        self.devices = devices
        self._render = torch.compile(self.augmentation.render, mode=mode, fullgraph=True)

    def __call__(self, images: torch.Tensor, mean, std, generator: torch.Generator | None = None):
        if images.device.type not in self.devices:
            return self.eager(images, mean, std, generator)
        n, _, height, width = images.shape
        d = self.augmentation.draw(n, height, width, generator, images.device)
        mean, std = _channel_stats(tuple(map(float, mean)), tuple(map(float, std)), images.device, torch.float32)
        return self._render(images, d, mean, std)


@dataclass(frozen=True)
class ShiftFlipAugmentation:
    """The supervised benchmark's augmentation: RandomCrop(size, padding) and a horizontal flip."""

    padding: int = 4
    flip_p: float = 0.5
    size: int | None = None  # resize first when the training size differs from the images'

    def __call__(self, images, mean, std, generator=None):
        x = images.float().div_(255)
        if self.size is not None and x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
        return normalize(random_shift_flip(x, self.padding, generator, self.flip_p), mean, std)


def prepare_eval(images: torch.Tensor, mean, std, size: int | None = None) -> torch.Tensor:
    """uint8 batch → normalised float, resized (bilinear, antialiased) to ``size`` if given."""
    x = images.float().div_(255)
    if size is not None and x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return normalize(x, mean, std)


def bound(augmentation, mean, std):
    """An augmentation with the dataset's normalisation fixed: (uint8 batch, generator) -> floats."""
    return partial(_apply, augmentation, mean, std)


def _apply(augmentation, mean, std, images, generator=None):
    return augmentation(images, mean, std, generator)
