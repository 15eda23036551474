"""Caption matching end to end: captioners (a tiny BLIP built here, the template stand-in), the
benchmark loaders on fixtures in their on-disk formats, retrieval in both directions, fusion,
and the chapter's checks."""
import socket

import numpy as np
import pytest
import torch
import torch.nn as nn

from ssllib.retrieval import matching
from ssllib.retrieval.captioners import HuggingFaceCaptioner, TemplateCaptioner, to_channels
from ssllib.retrieval.captions import CaptionCache
from ssllib.retrieval.datasets import domainnet, fashion_mnist_domains, office_home
from ssllib.data.base import DatasetNotFound

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "a", "photo", "of", "shirt", "bag", "boot", "sketch"]


@pytest.fixture(scope="module")
def tiny_blip(tmp_path_factory):
    """A BLIP captioner of random weights, 32 px, a 13-word vocabulary, saved in the layout a hub
    model has: what a GPU user's BLIP loads through, built without any download."""
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

    folder = tmp_path_factory.mktemp("tiny-blip")
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    tokenizer = BertTokenizer(str(folder / "vocab.txt"), bos_token="[DEC]")
    text = dict(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=64, max_position_embeddings=40, bos_token_id=5, pad_token_id=0, sep_token_id=3)
    vision = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, image_size=32,
                  patch_size=8)
    torch.manual_seed(0)
    BlipForConditionalGeneration(BlipConfig(text_config=text, vision_config=vision, projection_dim=32)) \
        .save_pretrained(folder)
    BlipProcessor(BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer).save_pretrained(folder)
    return folder


def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a network connection was attempted")
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_a_hugging_face_captioner_runs_offline_through_the_cache_and_the_text_encoder(tiny_blip, tmp_path,
                                                                                       monkeypatch):
    from ssllib.retrieval.text import TextEncoder

    _no_network(monkeypatch)
    images = torch.randint(0, 256, (5, 3, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    captioner = HuggingFaceCaptioner(str(tiny_blip), max_new_tokens=6)
    captions = CaptionCache(tmp_path, captioner.name, batch_size=2).captions(images, captioner)
    assert len(captions) == 5 and all(set(c.split()) <= set(VOCAB[6:]) for c in captions)
    assert captioner(images) == captions                                     # deterministic decoding
    again = CaptionCache(tmp_path, captioner.name)
    assert again.captions(images, captioner) == captions and (again.hits, again.misses) == (5, 0)
    beams = HuggingFaceCaptioner(str(tiny_blip), max_new_tokens=6, num_beams=2)
    assert beams.name != captioner.name                                      # another decoding, another cache
    prompted = HuggingFaceCaptioner(str(tiny_blip), max_new_tokens=6, prompt="a photo of")
    assert all(c.startswith("a photo of") for c in prompted(images[:2]))
    embeddings = matching.embed_texts(captions, TextEncoder().encode)
    assert embeddings.shape == (5, 384)
    torch.testing.assert_close(embeddings.norm(dim=1), torch.ones(5))


def test_a_hub_captioner_is_refused_unless_a_download_is_asked_for():
    with pytest.raises(ValueError, match="captioner='Salesforce/blip' is neither 'stand-in' .* allow_download=True"):
        HuggingFaceCaptioner("Salesforce/blip")


class _Fixed(nn.Module):
    """A 'backbone' whose feature is the image's mean pixel, and a head that turns it into logits."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))
        self.feature_dim = 1

    def forward(self, x):
        return x.mean((1, 2, 3))[:, None]


def test_the_template_captioner_names_its_guess_and_a_strong_second_one():
    head = nn.Linear(1, 3)
    with torch.no_grad():                                    # bright → class 2, dark → class 0, middle → 0 or 1
        head.weight.copy_(torch.tensor([[-4.0], [0.0], [4.0]]))
        head.bias.zero_()
    captioner = TemplateCaptioner(_Fixed(), head, ["Shirt", "Bag", "Ankle boot"], (0.0,), (1.0,), 8, 1, "fixed",
                                  second_guess=0.25)
    images = torch.stack([torch.full((3, 8, 8), v, dtype=torch.uint8) for v in (255, 0, 64)])
    probs = captioner.probabilities(images)
    torch.testing.assert_close(probs.sum(1), torch.ones(3))
    # 255 → logits (−4, 0, 4): ankle boot alone; 0 → (0, 0, 0): shirt, then bag at 1/3 ≥ 0.25
    assert captioner(images)[:2] == ["a photo of a ankle boot", "a photo of a shirt or a bag"]
    assert "second=0.25" in captioner.name and captioner.name.startswith("template:fixed")
    with pytest.raises(ValueError, match="second_guess=0"):
        TemplateCaptioner(_Fixed(), head, ["a", "b", "c"], (0.0,), (1.0,), 8, 1, "x", second_guess=0)


def test_grayscale_networks_read_the_mean_of_the_channels():
    rgb = torch.tensor([[[[30]], [[60]], [[91]]]], dtype=torch.uint8)
    assert to_channels(rgb, 1).tolist() == [[[[60]]]] and to_channels(rgb, 3) is rgb
    with pytest.raises(ValueError, match="cannot feed 3-channel images to a network of 2"):
        to_channels(rgb, 2)


def _png(path, value, size=(12, 9)):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), value, dtype=np.uint8)).save(path)


def test_office_home_reads_folders_per_domain_and_class(tmp_path):
    for domain, folder in (("art", "Art"), ("real_world", "Real World")):        # the archive's spelling
        for c, cls in enumerate(("Alarm_Clock", "Bike")):
            for i in range(2 + c):
                _png(tmp_path / folder / cls / f"{i:05d}.jpg", 40 * c + i)
    (tmp_path / "Art" / "Bike" / "notes.txt").write_text("not an image")
    sets = office_home(tmp_path, ["art", "real_world"], size=8)
    assert sets["art"].images.shape == (5, 3, 8, 8) and sets["art"].images.dtype == torch.uint8
    assert sets["art"].labels.tolist() == [0, 0, 1, 1, 1] and sets["real_world"].classes == ["Alarm_Clock", "Bike"]
    with pytest.raises(DatasetNotFound, match="office_home is not at .*Clipart: download it yourself"):
        office_home(tmp_path, ["art", "clipart"])
    with pytest.raises(ValueError, match="no domain 'paintings'"):
        office_home(tmp_path, ["art", "paintings"])


def test_domainnet_reads_its_list_files_and_keeps_a_subset_of_classes(tmp_path):
    names = {0: "aircraft_carrier", 3: "bird", 7: "whale"}
    for domain in ("clipart", "sketch"):
        for part in ("train", "test"):
            lines = []
            for label, cls in names.items():
                relative = f"{domain}/{cls}/{domain}_{label}_{part}.jpg"
                _png(tmp_path / relative, label * 10)
                lines.append(f"{relative} {label}")
            (tmp_path / f"{domain}_{part}.txt").write_text("\n".join(lines) + "\n")
    sets = domainnet(tmp_path, ["clipart", "sketch"], "all", ["whale", "bird"], size=8)
    assert sets["clipart"].classes == ["bird", "whale"] and sets["clipart"].labels.tolist() == [0, 1, 0, 1]
    assert int(sets["sketch"].images[1].float().mean()) == 70                    # the whale image, decoded
    assert len(domainnet(tmp_path, ["clipart", "sketch"], "test", size=8)["sketch"]) == 3
    with pytest.raises(ValueError, match="no class 'zebra'"):
        domainnet(tmp_path, ["clipart", "sketch"], classes=["zebra"], size=8)
    (tmp_path / "sketch" / "whale" / "sketch_7_test.jpg").unlink()
    with pytest.raises(DatasetNotFound, match="sketch_7_test.jpg: download it yourself"):
        domainnet(tmp_path, ["clipart", "sketch"], size=8)
    with pytest.raises(DatasetNotFound, match="real_train.txt"):
        domainnet(tmp_path, ["clipart", "real"], size=8)


def test_the_fashion_mnist_domains_hold_disjoint_images():
    images = torch.arange(30, dtype=torch.uint8).view(30, 1, 1, 1).expand(30, 1, 6, 6).contiguous()
    labels = torch.arange(30) % 10
    sets = fashion_mnist_domains(images, labels, [str(i) for i in range(10)], per_domain=4)
    assert list(sets) == ["photo", "sketch", "negative"]
    assert sets["photo"].images[:, 0, 0, 0].tolist() == [0, 3, 6, 9]             # image i → domain i mod 3
    assert sets["negative"].labels.tolist() == [2, 5, 8, 1] and sets["sketch"].images.shape == (4, 3, 6, 6)
    with pytest.raises(ValueError, match="no domain 'painting'"):
        fashion_mnist_domains(images, labels, list("0123456789"), ["photo", "painting"])


def test_retrieval_runs_both_directions_and_fusion_interpolates():
    gen = torch.Generator().manual_seed(0)
    labels = {"a": torch.tensor([0, 1, 1]), "b": torch.tensor([1, 0, 0, 1])}
    captions = {d: torch.randn(len(y), 4, generator=gen) for d, y in labels.items()}
    pixels = {d: torch.randn(len(y), 6, generator=gen) for d, y in labels.items()}
    rows = matching.retrieval_rows(labels, [1, 2], matching.cosine_between(captions))
    assert [(r["query"], r["gallery"]) for r in rows] == [("a", "b"), ("b", "a")]
    assert set(rows[0]) == {"query", "gallery", "P@1", "P@2", "mAP"}
    s_c = matching.cosine_between(captions)("a", "b")
    s_i = matching.cosine_between(pixels)("a", "b")
    torch.testing.assert_close(matching.fuse(s_c, s_i, 1.0), s_c)
    torch.testing.assert_close(matching.fuse(s_c, s_i, 0.0), s_i)
    torch.testing.assert_close(matching.fuse(s_c, s_i, 0.25), 0.25 * s_c + 0.75 * s_i)
    with pytest.raises(ValueError, match="fusion weight 1.5 must lie in"):
        matching.fuse(s_c, s_i, 1.5)


def test_captions_are_embedded_once_per_distinct_text():
    seen = []

    def encode(texts):
        seen.append(list(texts))
        return torch.eye(len(texts))
    out = matching.embed_texts(["b", "a", "b", "b"], encode)
    assert seen == [["a", "b"]] and out.tolist() == [[0, 1], [1, 0], [0, 1], [0, 1]]


def test_sentences_name_each_representation_as_one_retrieval():
    from ssllib.chapters.cdir import spoken
    from ssllib.chapters.retrieval_experiments import CAPTIONS, PIXELS, SSL, SUPERVISED, fused_label

    assert spoken(CAPTIONS) == "caption retrieval" and spoken(SSL) == "MoCo-v2 retrieval"
    assert spoken(SUPERVISED) == "supervised-feature retrieval" and spoken(PIXELS) == "raw-pixel retrieval"
    assert spoken(fused_label(0.25)) == "fused retrieval (w = 0.25)"
    assert spoken("something else") == "something else"


def test_a_captioner_that_cannot_be_fetched_is_refused_at_once_with_how_to_provide_it(tmp_path, monkeypatch):
    import time

    from ssllib.chapters.cdir import CDIR
    from ssllib.chapters.spec import resolve
    from ssllib.engine.params import ParameterError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as on a machine with no network
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # and nothing cached
    given = {"profile": "paper", "benchmark_root": str(tmp_path), "captioner": "Salesforce/blip-image-captioning-base",
             "allow_download": True, "image_encoder": "none"}
    start = time.perf_counter()
    with pytest.raises(ParameterError, match=r"not in this machine's Hugging Face cache and the hub cannot be reached "
                                             r"from here; on a machine with network run `huggingface-cli download "):
        resolve(CDIR, given, check_data=False)
    assert time.perf_counter() - start < 10
    with pytest.raises(ParameterError, match=r"benchmark='domainnet' with no domainnet_classes would decode every "
                                             r"class of every domain"):
        resolve(CDIR, {**given, "benchmark": "domainnet", "domains": "clipart,sketch", "allow_download": False,
                       "captioner": str(tmp_path)}, check_data=False)
