"""Background noise for the keyword corpus: generated noise kinds and mixing at an SNR.

Noise (no noise recordings exist here: all noise is generated from a seed)
    ``white``; ``pink`` (1/f power) and ``brown`` (1/f^2) from shaped white noise, flat below
    20 Hz; ``hum``: 50 or 60 Hz mains hum with 8 harmonics (amplitude 1/k, random phases) over
    a white floor 30 dB down; ``babble``: 4-7 overlapping words given by the caller (the
    corpus passes non-keyword words spoken by voices of the clip's split), each 0-6 dB down.

SNR
    :func:`add_noise` scales the noise so that ``10 log10(P_s / P_n) = snr_db``, with ``P_s``
    the mean square of the signal over its active part (:func:`active_part`) and ``P_n`` the
    mean square of the added noise over the whole clip.
"""

from __future__ import annotations

import math

import numpy as np

from neuromem.exceptions import ConfigError, DataError
from neuromem.schema import closest

__all__ = ["NOISE_KINDS", "ACTIVE_DB", "active_part", "add_noise", "make_noise"]

#: The generated noise kinds.
NOISE_KINDS = ("white", "pink", "brown", "babble", "hum")
#: Active part of a signal: samples within this many dB of its peak.
ACTIVE_DB = -40.0


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"expected a finite number, got {value!r}", key=name)
    return float(value)


def active_part(x: np.ndarray, threshold_db: float = ACTIVE_DB) -> slice:
    """The span of `x` from the first to the last sample within `threshold_db` of its peak.

    Examples
    --------
    >>> active_part(np.array([0.0, 0.001, 0.5, -1.0, 0.2, 0.0]))
    slice(2, 5, None)
    """
    mag = np.abs(np.asarray(x, dtype=np.float64))
    peak = mag.max(initial=0.0)
    if peak == 0:
        raise DataError("the signal is silent: it has no active part")
    idx = np.flatnonzero(mag >= peak * 10.0 ** (threshold_db / 20.0))
    return slice(int(idx[0]), int(idx[-1]) + 1)


def add_noise(x: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator, *,
              active: slice | np.ndarray | None = None) -> np.ndarray:
    """`x` plus `noise` scaled to a signal-to-noise ratio of `snr_db`.

    Parameters
    ----------
    x : ndarray, shape (n,)
        The clean signal.
    noise : ndarray, shape (m,), m >= n
        If longer than `x`, a segment starting at a random offset (drawn from `rng`) is used.
    snr_db : float, dB
    rng : numpy.random.Generator
        Only drawn from when the noise is longer than the signal.
    active : slice or bool ndarray, optional
        Where the signal is (default :func:`active_part` of `x`).

    Returns
    -------
    ndarray
        Same shape as `x`, float32 for a float32 `x`, else float64. Not clipped.

    Notes
    -----
    With :math:`P_s` the mean square of `x` over `active` and :math:`P_n` the mean square of
    the (selected) noise over all n samples, the noise is multiplied by
    :math:`\\sqrt{P_s / (P_n 10^{snr/10})}`, so that :math:`10\\log_{10}(P_s/P_n') = snr` for
    the added noise :math:`n'` (up to floating-point rounding).
    """
    x = np.asarray(x)
    noise = np.asarray(noise, dtype=np.float64)
    if x.ndim != 1 or noise.ndim != 1:
        raise ConfigError(f"expected 1-D signal and noise, got shapes {x.shape} and "
                          f"{noise.shape}", key="x")
    snr_db = _number(snr_db, "snr_db")
    n = x.size
    if noise.size < n:
        raise ConfigError(f"the noise ({noise.size} samples) is shorter than the signal ({n})",
                          key="noise")
    if noise.size > n:
        start = int(rng.integers(0, noise.size - n + 1))
        noise = noise[start:start + n]
    signal = x.astype(np.float64)
    region = active_part(signal) if active is None else active
    p_signal = float(np.mean(signal[region] ** 2))
    p_noise = float(np.mean(noise ** 2))
    if not p_signal > 0:
        raise DataError("the signal is silent over its active part: SNR undefined")
    if not p_noise > 0 or not math.isfinite(p_noise):
        raise DataError(f"the noise power is {p_noise}: cannot scale it to an SNR")
    y = signal + noise * math.sqrt(p_signal / (p_noise * 10.0 ** (snr_db / 10.0)))
    return y.astype(np.float32) if x.dtype == np.float32 else y


def _coloured(n: int, rng, sample_rate_Hz: int, exponent: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n, 1.0 / sample_rate_Hz), 20.0)
    spectrum *= f ** (-exponent / 2.0)
    spectrum[0] = 0.0
    return np.fft.irfft(spectrum, n)


def make_noise(kind: str, n: int, rng: np.random.Generator, sample_rate_Hz: int = 16000,
               babble_words=()) -> np.ndarray:
    """`n` samples of noise of one of :data:`NOISE_KINDS` (module docstring), unit RMS.

    ``babble`` needs `babble_words`: a sequence of 1-D arrays (words at `sample_rate_Hz`).
    """
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind in ("pink", "brown"):
        x = _coloured(n, rng, sample_rate_Hz, 1.0 if kind == "pink" else 2.0)
    elif kind == "hum":
        t = np.arange(n) / sample_rate_Hz
        f0 = (50.0, 60.0)[int(rng.integers(2))]
        phases = rng.uniform(0.0, 2 * np.pi, 8)
        k = np.arange(1, 9)[:, None]
        x = (np.sin(2 * np.pi * f0 * k * t + phases[:, None]) / k).sum(axis=0)
        x = x / np.sqrt(np.mean(x ** 2)) + 10 ** (-30 / 20) * rng.standard_normal(n)
    elif kind == "babble":
        if len(babble_words) == 0:
            raise ConfigError("babble noise needs words to mix", key="babble_words")
        x = np.zeros(n)
        for _ in range(int(rng.integers(4, 8))):
            word = babble_words[int(rng.integers(len(babble_words)))]
            size = min(word.size, n)
            start = int(rng.integers(-(size // 2), n - size // 2 + 1))
            lo, hi = max(start, 0), min(start + size, n)
            x[lo:hi] += word[lo - start:hi - start] * 10 ** (rng.uniform(-6.0, 0.0) / 20)
    else:
        raise ConfigError(f"unknown noise kind {kind!r}{closest(kind, NOISE_KINDS)}",
                          key="noise_kinds")
    rms = math.sqrt(float(np.mean(x ** 2)))
    if rms == 0:
        raise DataError(f"{kind} noise came out silent")
    return x / rms
