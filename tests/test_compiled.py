"""The bounded cache of compiled programs: LRU order, and eviction frees the executables."""

import gc
import os

import jax
import jax.numpy as jnp
import pytest

from bayescale._compiled import CompiledCache


def test_builds_once_and_drops_the_least_recently_used():
    built = []
    cache = CompiledCache(maxsize=2)

    def build(k):
        return lambda: built.append(k) or k

    assert cache.get("a", build("a")) == "a"
    assert cache.get("b", build("b")) == "b"
    assert cache.get("a", build("a")) == "a"  # a hit: not rebuilt, now most recent
    cache.get("c", build("c"))  # evicts b, the least recently used
    assert built == ["a", "b", "c"]
    assert "a" in cache and "c" in cache and "b" not in cache and len(cache) == 2
    with pytest.raises(ValueError, match="maxsize"):
        CompiledCache(maxsize=0)


def _mappings() -> int:
    with open("/proc/self/maps") as f:
        return sum(1 for _ in f)


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs Linux's /proc")
def test_an_evicted_program_gives_back_its_memory_mappings():
    """60 distinct programs through a cache of 4 hold about as many mappings as 4 programs;
    kept, they hold 60 programs' worth (each XLA:CPU executable maps about ten regions, and a
    process that runs out of its 65,530 crashes in the compiler)."""
    x = jnp.ones((3, 3))

    def program(i):
        return jax.jit(lambda v: jnp.sin(v * i) @ v.T + i)

    gc.collect()
    before = _mappings()
    kept = []
    for i in range(60):
        kept.append(program(i))
        kept[-1](x).block_until_ready()
    grown_kept = _mappings() - before
    del kept
    gc.collect()

    before = _mappings()
    cache = CompiledCache(maxsize=4)
    for i in range(60, 120):
        cache.get(i, lambda i=i: program(i))(x).block_until_ready()
    gc.collect()
    grown_bounded = _mappings() - before
    assert grown_kept > 200, grown_kept  # the premise: executables do hold mappings
    assert grown_bounded < grown_kept / 4, (grown_bounded, grown_kept)
