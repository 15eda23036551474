"""The CPU memory policy: a training step reuses freed memory instead of faulting it in afresh."""
import platform
import resource

import pytest
import torch
import torch.nn.functional as F

from ssllib.allocator import keep_freed_memory
from ssllib.losses import contrastive_logits, info_nce
from ssllib.synthetic_negatives import SyntheticSettings, draw_all, logits_from_draws


def synco_loss_page_faults(steps: int = 4, warmup: int = 5) -> float:
    """Page faults per forward and backward of SynCo's loss at the book's cpu-profile sizes
    (batch 128, queue 4,096, embedding 128, the paper's counts): several MB of temporaries."""
    gen = torch.Generator().manual_seed(0)
    queue = F.normalize(torch.randn(4096, 128, generator=gen), dim=1)
    keys = F.normalize(torch.randn(128, 128, generator=gen), dim=1)
    head = torch.nn.Linear(64, 128)
    x = torch.randn(128, 64, generator=gen)
    settings = SyntheticSettings()

    def step():
        q = F.normalize(head(x), dim=1)
        logits = contrastive_logits(q, keys, queue)
        draws = draw_all(q.detach(), queue, settings, gen, similarities=logits[:, 1:])
        logits = torch.cat([logits, logits_from_draws(q, logits[:, 1:], queue, draws, settings)], dim=1)
        info_nce(logits, 0.2).backward()

    for _ in range(warmup):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(steps):
        step()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / steps


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_a_synco_loss_step_reuses_freed_memory():
    assert keep_freed_memory() is True
    # Without the policy this workload faults in 2,000 to 3,300 pages (8 to 13 MB) per step; with
    # it, none in a fresh process and a few hundred where earlier tests left the heap fragmented.
    assert synco_loss_page_faults() < 600
