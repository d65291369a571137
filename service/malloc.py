"""glibc's malloc, set for a service worker: one arena, and freed memory kept for the next
request rather than handed back to the system at once.

Each setting is applied in this process through mallopt (glibc reads its variables only when a
process starts) and passed on to the worker processes uvicorn starts through its variable, unless
the operator set that variable. Other C libraries are left as they are.

- MALLOC_ARENA_MAX=1: glibc gives each thread that allocates its own arena (up to 8 per core),
  and each arena keeps freed memory for reuse, so a worker whose threadpool threads parse
  megabyte bodies grows with every thread. One arena, not two, because the idle trim below can
  hand back only the main arena's free top: glibc's malloc_trim leaves another arena's top alone.
- MALLOC_MMAP_THRESHOLD_=32 MiB and MALLOC_TRIM_THRESHOLD_=256 MiB: by default a block of a few
  megabytes (a body, a decoded array, a temporary of the loss) is mapped for itself and unmapped
  when freed, or the heap is trimmed as soon as its free top passes twice the largest such block;
  the next request then pays for fresh pages, page faults and zeroing, which on the machines
  these numbers come from cost as much as the arithmetic. Blocks up to 32 MiB (glibc's largest
  threshold) now come from the heap, and up to 256 MiB of it stays free for reuse; the worker
  gives it back once idle (`api.compute.HeapRelease`).

The numbers behind each setting are in bench/README.md.
"""

from __future__ import annotations

import ctypes
import os
import platform

__all__ = ["MALLOC_SETTINGS", "tune_malloc"]

# (variable, mallopt parameter from glibc's malloc.h, value)
MALLOC_SETTINGS = (
    ("MALLOC_ARENA_MAX", -8, 1),
    ("MALLOC_MMAP_THRESHOLD_", -3, 32 * 2**20),
    ("MALLOC_TRIM_THRESHOLD_", -1, 256 * 2**20),
)


def tune_malloc() -> dict[str, bool]:
    """Apply MALLOC_SETTINGS (see the module docstring): for each variable, True when it was
    applied here, False when the operator had set it or mallopt refused it; empty off glibc."""
    if platform.libc_ver()[0] != "glibc":
        return {}
    libc = ctypes.CDLL(None)
    applied = {}
    for variable, parameter, value in MALLOC_SETTINGS:
        if os.environ.get(variable):
            applied[variable] = False
            continue
        applied[variable] = bool(libc.mallopt(parameter, value))
        if applied[variable]:
            os.environ[variable] = str(value)
    return applied
