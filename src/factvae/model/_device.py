"""Where training runs: the CPU threads, the allocator, the device and whether the data fit on it."""

from __future__ import annotations

import os

import torch

from ..errors import FactVAEInputError

DEVICE_MEMORY_FRACTION = 0.5   # resident only if the data take at most this share of free memory


def available_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup CPU quota if any."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        n = os.cpu_count() or 1
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()
        if quota != "max":
            n = min(n, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


_ALLOCATOR_TUNED = False


def tune_cpu_allocator(threshold: int = 512 << 20) -> bool:
    """Keep glibc from returning every freed mini-batch tensor (B x peaks floats, megabytes) to
    the system and faulting it back in at the next step: large blocks are served from the heap
    up to `threshold` bytes. This alone makes a CPU step about 20 % faster (docs/benchmarks.md).
    Once per process; a no-op where the C library is not glibc, or when the environment
    variable FACTVAE_KEEP_ALLOCATOR is set."""
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED:
        return True
    if os.environ.get("FACTVAE_KEEP_ALLOCATOR"):  # an escape hatch: leave glibc as it is
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        _ALLOCATOR_TUNED = bool(libc.mallopt(M_MMAP_THRESHOLD, threshold)
                                and libc.mallopt(M_TRIM_THRESHOLD, threshold))
    except (OSError, AttributeError):
        pass
    return _ALLOCATOR_TUNED


def pick_device(device: str | torch.device | None = "auto") -> torch.device:
    """CUDA when present, then Apple MPS, then CPU; or exactly what was asked for."""
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise FactVAEInputError(f"unknown device {device!r}.", field="device",
                                fix="use auto, cpu, cuda, cuda:N or mps.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise FactVAEInputError("CUDA was requested but torch sees no CUDA device.",
                                field="device", fix="use --device auto or cpu, or install a CUDA "
                                "build of torch on a machine with an NVIDIA GPU.")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None)
                                  and torch.backends.mps.is_available()):
        raise FactVAEInputError("Apple MPS was requested but is not available.", field="device",
                                fix="use --device auto or cpu.")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise FactVAEInputError(f"device type {dev.type!r} is not supported.", field="device",
                                fix="use auto, cpu, cuda or mps.")
    return dev


def fits_on_device(nbytes: int, device: torch.device) -> bool:
    """CPU: always (the tensors share the host's memory). CUDA: when the data take at most
    DEVICE_MEMORY_FRACTION of the free memory, leaving the rest to activations."""
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return nbytes <= DEVICE_MEMORY_FRACTION * free
