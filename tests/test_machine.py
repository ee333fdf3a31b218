"""Tests of sklse._machine: each OS's report of the CPU caches, read as that OS
writes it (Linux sysfs files; macOS sysctl values of real Macs; Windows records
built in the documented layout)."""

import ctypes
import sys

import pytest

import sklse._machine
from sklse._machine import (
    Cache,
    _integers,
    _ProcessorInformation,
    cpu_caches,
    darwin_caches,
    l2_cache_bytes,
    l2_share,
    sysfs_caches,
    windows_caches,
)

CACHE_FILES = ("level", "type", "size", "shared_cpu_list")
KIB, MIB = 1024, 1024**2


def write_cache(root, *caches):
    """Write a Linux sysfs cache directory of (level, type, size, shared CPUs)."""
    for number, fields in enumerate(caches):
        index = root / f"index{number}"
        index.mkdir(parents=True)
        for name, value in zip(CACHE_FILES, fields, strict=True):
            (index / name).write_text(value + "\n")
    return root


def test_sysfs_caches_are_read_per_logical_cpu(tmp_path):
    l1 = ("1", "Data", "48K", "0")
    private = write_cache(tmp_path / "a", l1, ("2", "Unified", "2048K", "0"))
    assert sysfs_caches(private) == (
        Cache(1, "Data", 48 * KIB, 1),
        Cache(2, "Unified", 2 * MIB, 1),
    )
    assert l2_share(sysfs_caches(private)) == 2 * MIB
    # an L2 shared by CPUs 0-1 and 4: a third each
    shared = write_cache(tmp_path / "b", l1, ("2", "Unified", "3M", "0-1,4"))
    assert sysfs_caches(shared)[1] == Cache(2, "Unified", 3 * MIB, 3)
    assert l2_share(sysfs_caches(shared)) == MIB
    assert l2_share(sysfs_caches(write_cache(tmp_path / "c", l1))) is None
    assert sysfs_caches(tmp_path / "absent") == ()
    assert sysfs_caches(write_cache(tmp_path / "d", ("2", "Unified", "big", "0"))) == ()
    # the kernel hides the size of a cache of size 0: that entry alone is left out
    hidden = write_cache(tmp_path / "e", l1, ("2", "Unified", "1024K", "0"), l1)
    (hidden / "index2" / "size").unlink()
    assert l2_share(sysfs_caches(hidden)) == MIB
    assert len(sysfs_caches(hidden)) == 2


def test_an_instruction_cache_is_not_the_l2():
    caches = (Cache(2, "Instruction", 64 * KIB, 1), Cache(2, "Data", MIB, 2))
    assert l2_share(caches) == MIB // 2


# `sysctl hw` on an M1 MacBook Air (macOS 14): four performance cores share 12 MiB
M1 = {
    "hw.perflevel0.l1icachesize": (192 * KIB,),
    "hw.perflevel0.l1dcachesize": (128 * KIB,),
    "hw.perflevel0.l2cachesize": (12 * MIB,),
    "hw.perflevel0.cpusperl2": (4,),
    "hw.l1dcachesize": (64 * KIB,),  # the efficiency cores': not these
    "hw.l2cachesize": (4 * MIB,),
    "hw.cacheconfig": (8, 1, 4, 0, 0, 0, 0, 0, 0, 0),
}
# an Intel Core i9-9880H MacBook Pro: 8 cores, two hyperthreads each
INTEL_MAC = {
    "hw.l1icachesize": (32 * KIB,),
    "hw.l1dcachesize": (32 * KIB,),
    "hw.l2cachesize": (256 * KIB,),
    "hw.l3cachesize": (16 * MIB,),
    "hw.cacheconfig": (16, 2, 2, 16, 0, 0, 0, 0, 0, 0),
}


def test_macos_caches_of_the_performance_cores():
    caches = darwin_caches(M1.get)
    assert caches == (
        Cache(1, "Data", 128 * KIB, 1),
        Cache(1, "Instruction", 192 * KIB, 1),
        Cache(2, "Unified", 12 * MIB, 4),
    )
    assert l2_share(caches) == 3 * MIB


def test_intel_mac_caches_are_shared_as_cacheconfig_says():
    caches = darwin_caches(INTEL_MAC.get)
    assert caches[2:] == (
        Cache(2, "Unified", 256 * KIB, 2),
        Cache(3, "Unified", 16 * MIB, 16),
    )
    assert l2_share(caches) == 128 * KIB
    assert darwin_caches({}.get) == ()


def test_sysctl_values_are_native_integers():
    def raw(values, width):
        return b"".join(v.to_bytes(width, sys.byteorder) for v in values)

    assert _integers(raw([4], 4)) == (4,)  # an int, as hw.perflevel0.cpusperl2
    assert _integers(raw([12 * MIB], 8)) == (12 * MIB,)  # an int64
    assert _integers(raw([16, 2, 2, 16], 8)) == (16, 2, 2, 16)  # hw.cacheconfig
    assert _integers(b"") is None
    assert _integers(b"\x01\x02\x03") is None


def windows_records(*entries):
    """Return records of (mask, relationship, level, type, size), in the layout of
    SYSTEM_LOGICAL_PROCESSOR_INFORMATION."""
    records = (_ProcessorInformation * len(entries))()
    for record, entry in zip(records, entries, strict=True):
        record.processor_mask, record.relationship, level, kind, size = entry
        record.info.cache.level, record.info.cache.type = level, kind
        record.info.cache.size = size
    return records


def test_windows_records_have_the_documented_layout():
    # ULONG_PTR, an enum, then a 16-byte union aligned to 8: 32 bytes on 64-bit
    assert ctypes.sizeof(_ProcessorInformation) == (32 if sys.maxsize > 2**32 else 24)
    assert _ProcessorInformation.info.offset == (16 if sys.maxsize > 2**32 else 8)


def test_windows_caches_of_logical_processor_0():
    # RelationProcessorCore (0) for processors 0-1, caches (2) of types data (2),
    # instruction (1), unified (0); those of processors 2-3 are another core's
    records = windows_records(
        (0b11, 0, 0, 0, 0),
        (0b11, 2, 1, 2, 48 * KIB),
        (0b11, 2, 1, 1, 32 * KIB),
        (0b11, 2, 2, 0, 1280 * KIB),
        (0b1100, 2, 2, 0, 1280 * KIB),
        (0xFFFF, 2, 3, 0, 24 * MIB),
    )
    caches = windows_caches(records)
    assert caches == (
        Cache(1, "Data", 48 * KIB, 2),
        Cache(1, "Instruction", 32 * KIB, 2),
        Cache(2, "Unified", 1280 * KIB, 2),
        Cache(3, "Unified", 24 * MIB, 16),
    )
    assert l2_share(caches) == 640 * KIB


@pytest.mark.parametrize("platform", ["darwin", "win32", "sunos5"])
def test_each_os_is_asked_its_own_way_and_failure_is_no_answer(monkeypatch, platform):
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(sklse._machine, "_libc_sysctl", lambda: M1.get)

    def no_kernel32():
        raise AttributeError("module 'ctypes' has no attribute 'windll'")

    monkeypatch.setattr(sklse._machine, "_kernel32_records", no_kernel32)
    expected = {"darwin": darwin_caches(M1.get), "win32": (), "sunos5": ()}
    assert cpu_caches.__wrapped__() == expected[platform]


def test_l2_cache_bytes_assumes_2_mib_where_the_os_does_not_say(monkeypatch):
    monkeypatch.setattr(sklse._machine, "cpu_caches", lambda: ())
    assert l2_cache_bytes() == 2 * MIB
    monkeypatch.setattr(sklse._machine, "cpu_caches", lambda: darwin_caches(M1.get))
    assert l2_cache_bytes() == 3 * MIB


def test_libc_sysctl_reads_values_as_sysctlbyname_gives_them(monkeypatch):
    # A sysctlbyname of ctypes over M1's values, as XNU stores them (4-byte ints
    # for hw.perflevel0.*, 8-byte for hw.l2cachesize, uint64[10] hw.cacheconfig):
    # the first call with no buffer says the length, the second fills it.
    raw = {
        name.encode(): b"".join(
            v.to_bytes(4 if name.startswith("hw.perflevel0.") else 8, sys.byteorder)
            for v in value
        )
        for name, value in M1.items()
    }
    prototype = ctypes.CFUNCTYPE(
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_size_t),
        ctypes.c_void_p,
        ctypes.c_size_t,
    )

    def sysctlbyname(name, old, length, new, new_length):
        value = raw.get(name)
        if value is None or (old and length[0] < len(value)):
            return -1
        if old:
            ctypes.memmove(old, value, len(value))
        length[0] = len(value)
        return 0

    class Libc:
        pass

    Libc.sysctlbyname = prototype(sysctlbyname)
    monkeypatch.setattr(ctypes, "CDLL", lambda *args, **kwargs: Libc())
    sysctl = sklse._machine._libc_sysctl()
    assert sysctl("hw.cacheconfig") == M1["hw.cacheconfig"]
    assert sysctl("hw.perflevel0.cpusperl2") == (4,)
    assert sysctl("hw.absent") is None
    assert darwin_caches(sysctl) == darwin_caches(M1.get)
