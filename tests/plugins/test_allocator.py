"""The C allocator keeps freed memory: repeated large tensors stop faulting their pages in (glibc only)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

PROBE = """
import json, resource, sys
import torch
from plugins.allocator import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else False
for _ in range(10):  # the heap settles (a few first rounds still grow it)
    torch.empty(2**24).fill_(1.0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    torch.empty(2**24).fill_(1.0)  # 64 MiB allocated, written and freed
print(json.dumps({"kept": kept, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}))
"""

pytestmark = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="the allocator setting is for glibc on Linux")


def _run(mode: str, **env: str) -> dict[str, int]:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True,
                          env={**os.environ, **env})
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_freed_memory_is_reused_instead_of_faulted_in_again() -> None:
    default, kept = _run("default"), _run("keep")
    assert kept["kept"] and not default["kept"]
    pages = 20 * 2**26 // 4096  # what 20 fresh 64 MiB mappings fault in
    assert default["faults"] > pages // 2  # glibc maps each one afresh: the cost this setting removes
    assert kept["faults"] < default["faults"] // 5


def test_the_setting_can_be_turned_off() -> None:
    off = _run("keep", ROBUSTUNE_MALLOC="default")
    assert not off["kept"] and off["faults"] > 20 * 2**26 // 4096 // 2
