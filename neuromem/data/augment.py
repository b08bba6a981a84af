"""Training augmentation of waveforms: channel colourings and simulated rooms.

The corpus (:mod:`neuromem.data.corpus`) applies them to training clips, each from the clip's
own seeded stream; VTLP works on the front end's filters instead
(:func:`neuromem.data.audio.vtlp_warp`).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["AUGMENTATIONS", "CHANNELS", "colour_channel", "room_response"]

#: Training augmentations a corpus card can switch on.
AUGMENTATIONS = ("vtlp", "channel", "reverb")
#: Channel colourings of the ``channel`` augmentation.
CHANNELS = ("telephone", "lowpass", "highpass", "tilt")


def colour_channel(x: np.ndarray, kind: str, rng: np.random.Generator, fs: int) -> np.ndarray:
    """``x`` through one of :data:`CHANNELS`: a telephone band (4th-order Butterworth,
    300-3400 Hz), a cheap microphone's low-pass (6th order, U(3, 7) kHz), a high-pass (2nd
    order, U(100, 500) Hz) or a spectral tilt (first-order pre-/de-emphasis, coefficient
    U(-0.8, 0.8))."""
    from scipy.signal import butter, lfilter, sosfilt

    nyquist = fs / 2
    if kind == "telephone":
        sos = butter(4, [300.0, min(3400.0, 0.9 * nyquist)], btype="bandpass", fs=fs,
                     output="sos")
    elif kind == "lowpass":
        sos = butter(6, min(rng.uniform(3000.0, 7000.0), 0.9 * nyquist), fs=fs, output="sos")
    elif kind == "highpass":
        sos = butter(2, rng.uniform(100.0, 500.0), btype="highpass", fs=fs, output="sos")
    else:                                   # tilt: first-order pre- or de-emphasis
        return lfilter([1.0, -rng.uniform(-0.8, 0.8)], [1.0], x)
    return sosfilt(sos, x)


def room_response(n_taps: int, rt60_s: float, rng: np.random.Generator, fs: int) -> np.ndarray:
    """Impulse response of a diffuse room: the direct sound (1 at t = 0) and an
    exponentially decaying Gaussian tail (-60 dB after ``rt60_s``) whose energy sits
    U(0, 12) dB below the direct sound's."""
    t = np.arange(1, n_taps) / fs
    tail = rng.standard_normal(n_taps - 1) * np.exp(-3.0 * math.log(10.0) * t / rt60_s)
    tail *= 10 ** (-rng.uniform(0.0, 12.0) / 20) / math.sqrt(float(np.sum(tail ** 2)))
    return np.concatenate([[1.0], tail])
