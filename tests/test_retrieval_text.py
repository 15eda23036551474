"""The caption cache and the offline sentence encoder of ssllib.retrieval."""
import json
import socket

import pytest
import torch

from ssllib.retrieval.captions import CaptionCache, image_key
from ssllib.retrieval.text import DEFAULT_TEXT_ENCODER, TextEncoder, resolve_text_encoder


def _images(n=5, seed=0):
    return torch.randint(0, 256, (n, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


class _Counting:
    def __init__(self, word="image"):
        self.calls, self.word = [], word

    def __call__(self, batch):
        self.calls.append(len(batch))
        return [f"{self.word} of mean {int(img.float().mean())}" for img in batch]


def test_the_cache_hits_on_a_second_run_and_misses_on_another_captioner_or_image(tmp_path):
    images, captioner = _images(), _Counting()
    first = CaptionCache(tmp_path, "stand-in", batch_size=2).captions(images, captioner)
    assert captioner.calls == [2, 2, 1] and len(first) == 5
    again = CaptionCache(tmp_path, "stand-in")                       # a new run reads the file
    assert again.captions(images, captioner) == first and captioner.calls == [2, 2, 1] and again.hits == 5
    changed = images.clone()
    changed[3, 0, 0, 0] ^= 1                                         # one pixel of one image
    assert again.captions(changed, captioner)[3] == captioner(changed[3:4])[0] and again.misses == 1
    other = _Counting("photo")
    assert CaptionCache(tmp_path, "another/model").captions(images, other)[0].startswith("photo") and other.calls == [5]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["captions-another_model.json", "captions-stand-in.json"]
    assert json.loads((tmp_path / "captions-stand-in.json").read_text())["captioner"] == "stand-in"


def test_image_keys_follow_pixels_and_shape():
    a = _images(1)[0]
    assert image_key(a) == image_key(a.clone()) != image_key(a.reshape(1, 4, 16))
    assert image_key(a) != image_key(torch.where(a == 0, 1, a) if (a == 0).any() else a ^ 1)


def test_a_captioner_that_loses_captions_is_refused(tmp_path):
    with pytest.raises(ValueError, match="returned 1 captions for 5 images"):
        CaptionCache(tmp_path, "x").captions(_images(), lambda batch: ["one"])


def test_a_cache_file_of_another_captioner_is_refused(tmp_path):
    (tmp_path / "captions-x.json").write_text(json.dumps({"captioner": "y", "captions": {}}))
    with pytest.raises(ValueError, match="holds captions of 'y', not 'x'; move it aside"):
        CaptionCache(tmp_path, "x")


@pytest.fixture(scope="module")
def minilm():
    return TextEncoder()


def test_the_default_encoder_loads_and_encodes_without_the_network(minilm, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a network connection was attempted")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    encoder = TextEncoder()                                           # loads again, offline
    e = encoder.encode(["a photo of a sneaker", "a sketch of a sneaker", "a photo of a dress"])
    assert e.shape == (3, 384) and e.dtype == torch.float32
    torch.testing.assert_close(e.norm(dim=1), torch.ones(3))
    assert e[0] @ e[1] > e[0] @ e[2]                                  # same object, other domain: closer


def test_unknown_encoders_are_refused_unless_a_download_is_asked_for(tmp_path, monkeypatch):
    assert resolve_text_encoder(DEFAULT_TEXT_ENCODER).endswith("model")
    assert resolve_text_encoder(str(tmp_path)) == str(tmp_path.resolve())
    with pytest.raises(ValueError, match="neither 'all-MiniLM-L6-v2' .* nor a local folder; .* allow_download=True"):
        resolve_text_encoder("someone/some-encoder")
    monkeypatch.setattr("ssllib.retrieval.hub.hub_reachable", lambda: True)  # as with a network
    assert resolve_text_encoder("someone/some-encoder", allow_download=True) == "someone/some-encoder"
