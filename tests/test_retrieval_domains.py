"""The Fashion-MNIST domains of the retrieval chapter (ssllib.retrieval.domains)."""
import pytest
import torch

from ssllib.retrieval.domains import DOMAINS, NEGATIVE_TINT, make_domain


def _step(size=8):
    """A black left half and a white right half: one vertical edge."""
    x = torch.zeros(1, 1, size, size, dtype=torch.uint8)
    x[..., size // 2:] = 255
    return x


def test_photo_is_the_image_in_three_channels():
    x = torch.randint(0, 256, (3, 1, 6, 6), dtype=torch.uint8)
    out = make_domain(x, "photo")
    assert out.shape == (3, 3, 6, 6) and out.dtype == torch.uint8
    assert all(torch.equal(out[:, c:c + 1], x) for c in range(3))


def test_sketch_draws_the_edge_dark_on_white():
    out = make_domain(_step(), "sketch")[0, 0]
    assert (out[:, :3] == 255).all() and (out[:, 5:] == 255).all()     # flat regions: white
    assert (out[:, 3:5] == 0).all()                                     # the edge's two columns: black
    assert (make_domain(torch.full((1, 1, 8, 8), 90, dtype=torch.uint8), "sketch") == 255).all()  # no edge


def test_negative_inverts_and_tints():
    x = torch.tensor([[[[0, 255], [51, 204]]]], dtype=torch.uint8)
    out = make_domain(x, "negative")
    for c, tint in enumerate(NEGATIVE_TINT):
        expected = ((1 - x.float() / 255) * tint * 255).round().to(torch.uint8)
        assert torch.equal(out[:, c:c + 1], expected)
    assert out[0, :, 0, 1].tolist() == [0, 0, 0] and out[0, 0, 0, 0] == 255


def test_domains_are_deterministic_and_differ_from_each_other():
    x = torch.randint(0, 256, (4, 1, 12, 12), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    outs = {d: make_domain(x, d) for d in DOMAINS}
    assert all(torch.equal(outs[d], make_domain(x, d)) for d in DOMAINS)
    assert len({tuple(o.flatten().tolist()) for o in outs.values()}) == len(DOMAINS)


def test_bad_inputs_get_one_sentence():
    with pytest.raises(ValueError, match="unknown domain 'painting'; choose one of photo, sketch, negative"):
        make_domain(_step(), "painting")
    with pytest.raises(ValueError, match=r"grayscale uint8 batches \(N, 1, H, W\), got torch.float32"):
        make_domain(torch.zeros(1, 1, 4, 4), "photo")
