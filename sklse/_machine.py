"""What the OS says about this machine's CPU caches: the sizes that set sklse's blocks.

:func:`cpu_caches` reads them where each OS publishes them, once per process: Linux's
sysfs (CPU 0's caches), macOS's ``sysctl`` (the performance cores' on Apple silicon,
``hw.*`` on Intel Macs) and Windows' ``GetLogicalProcessorInformation`` (the caches of
logical processor 0). Every reader returns ``()`` rather than raise where the OS says
nothing it understands; :func:`l2_cache_bytes` then assumes 2 MiB. The benchmarks print
the same caches in their headers, so a table names the sizes its blocks came from.
"""

import ctypes
import ctypes.util
import sys
from functools import cache
from pathlib import Path
from typing import NamedTuple

__all__ = ["Cache", "cpu_caches", "l2_cache_bytes"]

_SYSFS = Path("/sys/devices/system/cpu/cpu0/cache")
_DEFAULT_L2 = 2 * 1024 * 1024  # where the OS does not say


class Cache(NamedTuple):
    """One CPU cache: ``kind`` is "Data", "Instruction" or "Unified"; ``shared`` the
    number of logical CPUs that share its ``size`` bytes."""

    level: int
    kind: str
    size: int
    shared: int


def _cpu_count(cpu_list):
    """Return the number of CPUs in a Linux CPU list such as ``"0-3,8"``."""
    count = 0
    for part in cpu_list.split(","):
        first, _, last = part.partition("-")
        count += int(last or first) - int(first) + 1
    return count


def sysfs_caches(root=_SYSFS):
    """Return the caches under ``root`` (Linux sysfs: ``index*/{level,type,size,
    shared_cpu_list}``, sizes such as ``2048K``); an entry that cannot be read is
    left out (the kernel hides ``size`` where it is 0)."""
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    caches = []
    for index in sorted(root.glob("index*"), key=lambda path: path.name):
        try:
            level, kind, size, shared = (
                (index / name).read_text().strip()
                for name in ("level", "type", "size", "shared_cpu_list")
            )
            scale = units.get(size[-1:], 1)
            value = int(size[:-1] if size[-1:] in units else size) * scale
            caches.append(Cache(int(level), kind, value, max(_cpu_count(shared), 1)))
        except (OSError, ValueError):
            continue
    return tuple(caches)


def darwin_caches(sysctl):
    """Return the caches that macOS's ``sysctl`` reports; ``sysctl(name)`` gives a
    name's integers (a tuple) or None.

    Apple silicon describes each kind of core apart: ``hw.perflevel0.*`` are the
    performance cores, where a fit's threads run; an L2 there is shared by
    ``cpusperl2`` cores. Intel Macs have ``hw.l2cachesize`` and friends, and
    ``hw.cacheconfig[level]``, the number of logical CPUs that share each level.
    """
    perf = sysctl("hw.perflevel0.l2cachesize") is not None
    prefix = "hw.perflevel0." if perf else "hw."
    config = () if perf else (sysctl("hw.cacheconfig") or ())
    caches = []
    for level, kind, name in (
        (1, "Data", "l1dcachesize"),
        (1, "Instruction", "l1icachesize"),
        (2, "Unified", "l2cachesize"),
        (3, "Unified", "l3cachesize"),
    ):
        size = sysctl(prefix + name)
        if not size or size[0] <= 0:
            continue
        if perf:
            shared = sysctl(f"{prefix}cpusperl{level}") if level > 1 else None
        else:
            shared = config[level : level + 1]
        caches.append(Cache(level, kind, size[0], max(shared[0] if shared else 1, 1)))
    return tuple(caches)


def _integers(raw):
    """Return the native-endian integers of a sysctl value: one 4-byte int, or 8-byte
    ones (an int64, or an array such as ``hw.cacheconfig``)."""
    width = 4 if len(raw) == 4 else 8
    if not raw or len(raw) % width:
        return None
    return tuple(
        int.from_bytes(raw[i : i + width], sys.byteorder)
        for i in range(0, len(raw), width)
    )


def _libc_sysctl():
    """Return ``sysctl(name)`` over libc's ``sysctlbyname`` (macOS, BSDs)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    call = libc.sysctlbyname
    call.argtypes = [
        ctypes.c_char_p,
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_size_t),
        ctypes.c_void_p,
        ctypes.c_size_t,
    ]

    def sysctl(name):
        size = ctypes.c_size_t(0)
        if call(name.encode(), None, ctypes.byref(size), None, 0) or not size.value:
            return None
        value = ctypes.create_string_buffer(size.value)
        if call(name.encode(), value, ctypes.byref(size), None, 0):
            return None
        return _integers(value.raw[: size.value])

    return sysctl


class _CacheDescriptor(ctypes.Structure):
    _fields_ = [
        ("level", ctypes.c_uint8),
        ("associativity", ctypes.c_uint8),
        ("line_size", ctypes.c_uint16),
        ("size", ctypes.c_uint32),
        ("type", ctypes.c_int),  # PROCESSOR_CACHE_TYPE
    ]


class _ProcessorInformation(ctypes.Structure):
    """Windows' ``SYSTEM_LOGICAL_PROCESSOR_INFORMATION`` (32 bytes on 64-bit)."""

    class _Info(ctypes.Union):
        _fields_ = [("cache", _CacheDescriptor), ("reserved", ctypes.c_uint64 * 2)]

    _fields_ = [
        ("processor_mask", ctypes.c_size_t),  # ULONG_PTR
        ("relationship", ctypes.c_int),  # LOGICAL_PROCESSOR_RELATIONSHIP
        ("info", _Info),
    ]


_RELATION_CACHE = 2
_CACHE_TYPES = {0: "Unified", 1: "Instruction", 2: "Data", 3: "Trace"}


def windows_caches(records):
    """Return the caches of logical processor 0 among Windows' records (an array of
    ``SYSTEM_LOGICAL_PROCESSOR_INFORMATION``); ``shared``: the processors of the
    record's mask."""
    caches = [
        Cache(
            record.info.cache.level,
            _CACHE_TYPES.get(record.info.cache.type, "Unknown"),
            record.info.cache.size,
            max(record.processor_mask.bit_count(), 1),
        )
        for record in records
        if record.relationship == _RELATION_CACHE and record.processor_mask & 1
    ]
    return tuple(sorted(caches, key=lambda c: (c.level, c.kind != "Data")))


def _kernel32_records():
    """Return ``GetLogicalProcessorInformation``'s records (Windows)."""
    function = ctypes.windll.kernel32.GetLogicalProcessorInformation
    length, width = ctypes.c_uint32(0), ctypes.sizeof(_ProcessorInformation)
    function(None, ctypes.byref(length))  # fails, and says the length it needs
    records = (_ProcessorInformation * (length.value // width))()
    if not function(records, ctypes.byref(length)):
        return ()
    return records[: length.value // width]


@cache
def cpu_caches():
    """Return this machine's CPU caches as its OS reports them, read once per
    process; () where it does not say."""
    try:
        if sys.platform.startswith("linux"):
            return sysfs_caches()
        if sys.platform == "darwin":
            return darwin_caches(_libc_sysctl())
        if sys.platform == "win32":
            return windows_caches(_kernel32_records())
    except Exception:  # noqa: BLE001 - an OS that says nothing usable: ()
        pass
    return ()


def l2_share(caches):
    """Return one logical CPU's share of its L2 cache in bytes, or None: not listed."""
    for entry in caches:
        if entry.level == 2 and entry.kind != "Instruction":
            return entry.size // entry.shared
    return None


def l2_cache_bytes():
    """Return one core's L2 cache in bytes, as the OS says (:func:`cpu_caches`),
    2 MiB where it does not."""
    return l2_share(cpu_caches()) or _DEFAULT_L2
