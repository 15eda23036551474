"""The CPU memory policy: freed memory is kept for the next allocations instead of being handed
back to the operating system and faulted in again, page by page."""
import json
import platform
import subprocess
import sys

import pytest

from ssllib.engine.allocator import keep_freed_memory

# Twenty 4 MiB blocks taken from glibc's malloc (the allocator PyTorch's CPU tensors come from),
# written and freed, round after round, as a training step makes and frees its temporaries. Plain
# malloc, so that no small allocation of the interpreter's lands above the blocks and keeps the
# heap from being trimmed by chance. Prints the minor page faults of rounds 3 to 6.
ROUNDS_OF_TEMPORARIES = """
import ctypes, ctypes.util, json, resource, sys
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
applied = None
if sys.argv[1] == "policy":
    from ssllib.engine.allocator import keep_freed_memory
    applied = keep_freed_memory()
size, blocks = 4 << 20, [None] * 20
def one_round():
    for i in range(len(blocks)):
        blocks[i] = libc.malloc(size)
        ctypes.memset(blocks[i], 1, size)
    for block in blocks:
        libc.free(block)
faults = []
for _ in range(6):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    one_round()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps([applied, faults[2:]]))
"""


def faults_per_round(mode: str) -> list[int]:
    """Each mode in a fresh interpreter: the policy is process-wide and cannot be undone."""
    out = subprocess.run([sys.executable, "-c", ROUNDS_OF_TEMPORARIES, mode],
                         capture_output=True, text=True, check=True)
    applied, faults = json.loads(out.stdout.strip().splitlines()[-1])
    assert applied == {"policy": True, "default": None}[mode], applied
    return faults


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_freed_memory_is_reused_rather_than_faulted_in_again():
    assert keep_freed_memory() is True
    # A round writes 20,480 pages. By default glibc trims the 80 MiB freed at the top of its heap
    # and every round faults it all in again (measured: 20,448 a round, every run); with the
    # policy the memory stays mapped and later rounds fault in nothing (measured: 0).
    default, with_policy = faults_per_round("default"), faults_per_round("policy")
    assert min(default) > 15_000, default
    assert max(with_policy) < 1_000, with_policy
