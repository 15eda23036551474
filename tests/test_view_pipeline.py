"""The view as draws then a pure render, and its compiled form, against the one-pass augmentation."""
import pytest
import torch

from ssllib.data.augment import CompiledViews, ViewAugmentation
from ssllib.selfsup.build import views_of
from ssllib.selfsup.config import RunConfig

MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


def _images(channels=3, n=12, side=20, seed=0):
    return torch.randint(0, 256, (n, channels, side, side), generator=torch.Generator().manual_seed(seed),
                         dtype=torch.uint8)


@pytest.mark.parametrize("channels,solarize_p,sync_free", [(3, 0.0, True), (3, 0.5, False), (1, 0.0, True)])
def test_render_of_the_draws_is_the_augmentation_exactly(channels, solarize_p, sync_free):
    aug = ViewAugmentation(size=16, solarize_p=solarize_p, sync_free=sync_free)
    images = _images(channels)
    mean, std = MEAN[:channels], STD[:channels]
    g_ref, g_new = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    expected = aug(images, mean, std, g_ref)
    d = aug.draw(len(images), 20, 20, g_new)
    got = aug.render(images, d, torch.tensor(mean).view(1, -1, 1, 1), torch.tensor(std).view(1, -1, 1, 1))
    assert torch.equal(got, expected)
    assert torch.equal(g_ref.get_state(), g_new.get_state()), "the two made a different number of draws"


def test_the_compiled_views_match_the_eager_ones_on_the_same_draws():
    aug = ViewAugmentation(size=16, solarize_p=0.2)
    images = _images()
    compiled = CompiledViews(aug, devices=("cpu",))   # compiled here too (by default only on a GPU)
    for seed in (0, 1):                       # the second call reuses the compiled graph
        expected = ViewAugmentation(size=16, solarize_p=0.2, sync_free=True)(
            images, MEAN, STD, torch.Generator().manual_seed(seed))
        got = compiled(images, MEAN, STD, torch.Generator().manual_seed(seed))
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert not torch.equal(compiled(images, MEAN, STD, torch.Generator().manual_seed(0)),
                           compiled(images, MEAN, STD, torch.Generator().manual_seed(1)))


def test_a_compiled_run_makes_its_views_compiled_and_an_eager_one_does_not():
    class Data:
        in_memory, mean, std = True, MEAN, STD
    eager = views_of(RunConfig(), Data, 16)
    compiled = views_of(RunConfig(compile=True), Data, 16)
    assert isinstance(eager.args[0], ViewAugmentation) and isinstance(compiled.args[0], CompiledViews)
    # On the CPU the compiled views fall back to the faster eager path, draw for draw.
    images = _images()
    assert torch.equal(compiled(images, torch.Generator().manual_seed(0)), eager(images, torch.Generator().manual_seed(0)))
