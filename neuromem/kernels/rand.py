"""Counter-based random numbers: the same (key, counter) gives the same value on any thread.

The engine draws input spikes and read noise from these, so inference over many samples runs
in parallel (prange) and still gives bit-identical results for a seed. splitmix64 (Steele,
Lea, Flood, OOPSLA 2014) is the mixing function.
"""

import math

import numpy as np
from numba import njit, uint64

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_INV53 = 1.0 / 9007199254740992.0  # 2^-53


@njit(cache=True, inline="always")
def mix64(z):
    z = uint64(z)
    z = (z ^ (z >> uint64(30))) * _M1
    z = (z ^ (z >> uint64(27))) * _M2
    return z ^ (z >> uint64(31))


@njit(cache=True, inline="always")
def hash_uniform(key, a, b, c):
    """Uniform in [0, 1) from a 64-bit key and three counters (e.g. sample, step, channel)."""
    z = mix64(uint64(key) + _GOLDEN * uint64(a + 1))
    z = mix64(z + _GOLDEN * uint64(b + 1))
    z = mix64(z + _GOLDEN * uint64(c + 1))
    return float(z >> uint64(11)) * _INV53


@njit(cache=True, inline="always")
def hash_normal(key, a, b, c):
    """Standard normal (Box-Muller) from a 64-bit key and three counters."""
    u1 = hash_uniform(key, a, b, 2 * c)
    u2 = hash_uniform(key, a, b, 2 * c + 1)
    if u1 < 1e-300:
        u1 = 1e-300
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
