"""Audio front end: WAV files -> 1 s windows -> log-mel features.

The keyword-spotting pipeline is

``read_wav`` -> :func:`resample` -> :func:`trim_silence` -> :func:`fix_length`
-> :func:`log_mel` -> :func:`normalize_channels` (statistics from :func:`fit_normalizer`
on the training split) -> a spike encoder (:mod:`neuromem.data.encoders`).

Its settings live in the frozen dataclass :class:`FrontEnd` (the ``[parameters.front_end]``
table of a dataset card). Waveforms are float32 in [-1, 1]; times are in seconds, frequencies
in hertz.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from fractions import Fraction
from pathlib import Path

import numpy as np

from neuromem.exceptions import ConfigError, DataError
from neuromem.schema import at_least, nonnegative, param, positive

__all__ = ["FrontEnd", "read_wav", "write_wav", "resample", "trim_silence", "silence_span",
           "fix_length", "hz_to_mel", "mel_to_hz", "mel_filterbank", "mel_power", "log_mel",
           "speech_span", "speech_level_dbfs", "match_level", "vtlp_warp", "stretch_frames",
           "preprocess", "extract", "fit_normalizer", "normalize_channels", "mix_at_snr"]


@dataclasses.dataclass(frozen=True)
class FrontEnd:
    """Settings of the audio front end (one per dataset card).

    Frames start every ``hop_s`` and last ``frame_s``; the FFT length is the next power of
    two at or above the frame length. A 1 s window with 25 ms frames and a 10 ms hop gives
    ``1 + (16000 - 400) // 160 = 98`` frames (no padding at the edges).
    """

    sample_rate_Hz: int = param(16000, kind=int, unit="Hz", check=positive,
                                doc="sample rate the audio is resampled to")
    window_s: float = param(1.0, unit="s", check=positive,
                            doc="length every clip is padded or cropped to")
    frame_s: float = param(0.025, unit="s", check=positive, doc="analysis frame length")
    hop_s: float = param(0.010, unit="s", check=positive, doc="frame step")
    n_mels: int = param(40, kind=int, check=at_least(1), doc="mel channels")
    f_min_Hz: float = param(20.0, unit="Hz", check=nonnegative,
                            doc="lower edge of the lowest mel filter")
    f_max_Hz: float = param(8000.0, unit="Hz", check=positive,
                            doc="upper edge of the highest mel filter (<= sample_rate_Hz / 2)")
    trim_db: float = param(40.0, unit="dB", check=positive, allow_inf=True,
                           doc="silence threshold below the loudest frame (inf: no trimming)")
    vad_db: float = param(3.0, unit="dB", check=positive, allow_inf=True,
                          doc="clips without silence (a noise floor): a frame is speech when "
                              "its mel channels lie on average this far above their median "
                              "over the clip (inf: level trimming only)")
    join_db: float = param(math.inf, unit="dB", check=positive, allow_inf=True,
                           doc="clips with silence: a burst of sound apart from the word "
                               "(more than 20 ms of silence between) belongs to it only when "
                               "it peaks less than this below the loudest frame and lies "
                               "within 0.3 s (inf: every frame within trim_db)")
    vad_gap_s: float = param(0.1, unit="s", check=nonnegative,
                             doc="speech frames closer than this are one utterance (the "
                                 "strongest utterance is kept)")
    denoise: float = param(1.0, check=nonnegative,
                           doc="spectral subtraction: times the noise power per mel channel "
                               "measured outside the word (0: off)")
    align: str = param("center", kind=str, choices=("center", "start"),
                       doc="where a clip sits in its window when padded or cropped")
    normalize: str = param("per_channel", kind=str, choices=("per_channel", "none"),
                           doc="per-channel standardisation with training-set statistics")
    log_floor: float = param(1e-6, check=positive,
                             doc="added to the mel power before the logarithm")
    time_axis: str = param("window", kind=str, choices=("window", "word"),
                           doc="window: the word sits in the fixed window (padded with "
                               "silence); word: the word's frames are stretched to fill the "
                               "window (speaking rate and endpoints normalised)")
    floor_db: float = param(math.inf, unit="dB", check=positive, allow_inf=True,
                            doc="relative floor: features are levels in dB-like units below "
                                "the clip's loudest mel cell, floored this far down (inf: "
                                "absolute levels with log_floor)")
    utterance_norm: str = param("none", kind=str, choices=("none", "mean", "mean_var"),
                                doc="per-utterance normalisation of each mel channel over the "
                                    "word's frames (cepstral mean / variance normalisation)")

    def check(self) -> None:
        """Cross-field checks (raise ConfigError naming the key)."""
        if self.frame_s > self.window_s:
            raise ConfigError(f"frame_s {self.frame_s:g} s is longer than window_s "
                              f"{self.window_s:g} s", key="frame_s")
        if self.hop_s > self.frame_s:
            raise ConfigError(f"hop_s {self.hop_s:g} s is longer than frame_s "
                              f"{self.frame_s:g} s (samples would be skipped)", key="hop_s")
        if self.n_frame < 2 or self.n_hop < 1:
            raise ConfigError("frame_s and hop_s are shorter than a sample at "
                              f"{self.sample_rate_Hz} Hz", key="frame_s")
        if not self.f_min_Hz < self.f_max_Hz <= self.sample_rate_Hz / 2:
            raise ConfigError(f"expected f_min_Hz < f_max_Hz <= sample_rate_Hz / 2 = "
                              f"{self.sample_rate_Hz / 2:g}, got {self.f_min_Hz:g} and "
                              f"{self.f_max_Hz:g}", key="f_max_Hz")

    @property
    def n_window(self) -> int:
        """Samples per window."""
        return int(round(self.window_s * self.sample_rate_Hz))

    @property
    def n_frame(self) -> int:
        """Samples per analysis frame."""
        return int(round(self.frame_s * self.sample_rate_Hz))

    @property
    def n_hop(self) -> int:
        """Samples per hop."""
        return int(round(self.hop_s * self.sample_rate_Hz))

    @property
    def n_fft(self) -> int:
        """FFT length: the next power of two >= the frame length."""
        return 1 << max(self.n_frame - 1, 1).bit_length()

    @property
    def n_frames(self) -> int:
        """Frames per window."""
        return 1 + (self.n_window - self.n_frame) // self.n_hop


# --------------------------------------------------------------------------- WAV files

def read_wav(path) -> tuple[np.ndarray, int]:
    """Read a WAV file as float32 samples in [-1, 1] and its sample rate.

    Integer PCM is scaled by its full range (int16 / 2**15, int32 / 2**31 -- scipy returns
    24-bit files left-justified in int32 --, uint8 (x - 128) / 128); float files are taken
    as they are. Several channels are averaged into one.

    Raises
    ------
    DataError
        The file is missing, unreadable, not a WAV file, empty or holds non-finite samples;
        the message names the file.
    """
    import struct
    import warnings

    from scipy.io import wavfile

    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            sr, data = wavfile.read(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a WAV file") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read: {err.strerror or err}") from None
    except (ValueError, EOFError, IndexError, TypeError, struct.error) as err:
        raise DataError(f"{path}: not a readable WAV file ({err})") from None
    data = np.asarray(data)
    if data.size == 0:
        raise DataError(f"{path}: WAV file holds no samples")
    kind = data.dtype
    if kind == np.uint8:
        x = (data.astype(np.float32) - 128.0) / 128.0
    elif np.issubdtype(kind, np.signedinteger):
        x = data.astype(np.float64) / float(2 ** (8 * kind.itemsize - 1))
    elif np.issubdtype(kind, np.floating):
        x = data
    else:
        raise DataError(f"{path}: unsupported WAV sample type {kind}")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1, dtype=np.float64).astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise DataError(f"{path}: WAV file holds non-finite samples")
    return x, int(sr)


def write_wav(path, x, sr: int) -> None:
    """Write mono samples in [-1, 1] as a 16-bit PCM WAV file.

    Samples are scaled by 2**15, rounded and clipped to [-32768, 32767], so :func:`read_wav`
    returns them within half a quantisation step (2**-16; a full step at +1).
    """
    from scipy.io import wavfile

    x = np.asarray(x, dtype=np.float64).ravel()
    pcm = np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)
    wavfile.write(Path(path), int(sr), pcm)


# --------------------------------------------------------------------------- time domain

def resample(x, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample by the rational factor ``sr_out / sr_in`` (polyphase FIR, scipy).

    Returns ``ceil(len(x) * sr_out / sr_in)`` samples (float32).

    Notes
    -----
    With ``up / down = sr_out / sr_in`` reduced to lowest terms (:class:`fractions.Fraction`),
    :func:`scipy.signal.resample_poly` upsamples by ``up``, applies a Kaiser-windowed
    low-pass at ``min(1/up, 1/down)`` of Nyquist and keeps every ``down``-th sample.
    """
    from scipy.signal import resample_poly

    x = np.asarray(x, dtype=np.float32)
    if int(sr_in) <= 0 or int(sr_out) <= 0:
        raise ConfigError(f"sample rates must be > 0, got {sr_in} and {sr_out}",
                          key="sample_rate_Hz")
    ratio = Fraction(int(sr_out), int(sr_in))
    if ratio == 1:
        return x.copy()
    y = resample_poly(x, ratio.numerator, ratio.denominator)
    return y.astype(np.float32)


def silence_span(x, sr: int, top_db: float, frame_s: float = 0.025,
                 hop_s: float = 0.010, join_db: float = math.inf) -> tuple[int, int]:
    """The sample span ``[start, stop)`` of the frames louder than ``top_db`` below the peak.

    Notes
    -----
    Frame ``k`` covers samples ``[k h, k h + L)`` (the last frames are zero-padded) and has
    energy :math:`E_k = \\frac{1}{L}\\sum x_n^2`. It is kept when
    :math:`10 \\log_{10}(E_k / \\max_j E_j) > -\\mathrm{top\\_db}`. The span runs from the
    first kept frame's start to the last kept frame's end (clipped to the signal), so a
    sound's edges are found to within one frame. An all-zero signal (or ``top_db = inf``)
    keeps everything. With a finite ``join_db`` the span is the word's alone: kept frames
    closer than 20 ms form runs, the run with the most energy is the word's core, and
    neighbouring runs join it only when they lie within 0.3 s and peak above ``-join_db``
    (the fricative before a stop closure or the burst after it does; a click or breath
    32 dB down before the word, as diphone synthesizers and microphones leave, does not).
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    length = max(int(round(frame_s * sr)), 1)
    hop = max(int(round(hop_s * sr)), 1)
    if n == 0 or math.isinf(top_db):
        return 0, n
    n_frames = 1 + max(n - length + hop - 1, 0) // hop
    padded = np.zeros((n_frames - 1) * hop + length)
    padded[:n] = x
    idx = np.arange(length)[None, :] + hop * np.arange(n_frames)[:, None]
    energy = np.mean(padded[idx] ** 2, axis=1)
    peak = energy.max()
    if peak <= 0:
        return 0, n
    with np.errstate(divide="ignore"):
        level_db = 10.0 * np.log10(energy / peak)
    kept = np.flatnonzero(level_db > -top_db)
    if math.isfinite(join_db) and kept.size > 1:
        first, last = _word_runs(level_db, kept, max(int(round(0.02 / hop_s)), 1),
                                 int(round(0.3 / hop_s)), join_db)
        return int(first * hop), int(min(n, last * hop + length))
    return int(kept[0] * hop), int(min(n, kept[-1] * hop + length))


def _word_runs(level_db: np.ndarray, kept: np.ndarray, gap: int, reach: int,
               join_db: float) -> tuple[int, int]:
    """First and last frame of the word among the kept frames: runs of kept frames (gaps up
    to ``gap`` frames bridged); the run with the most energy, joined by its neighbours that
    start within ``reach`` frames of it and rise above ``-join_db`` (parts of the word after
    a stop closure), but not by weak clicks or breaths further away."""
    breaks = np.flatnonzero(np.diff(kept) > gap + 1)
    firsts = np.concatenate([[kept[0]], kept[breaks + 1]])
    lasts = np.concatenate([kept[breaks], [kept[-1]]])
    power = 10.0 ** (level_db / 10.0)
    best = int(np.argmax([power[a:b + 1].sum() for a, b in zip(firsts, lasts)]))
    lo = hi = best
    while lo > 0 and firsts[lo] - lasts[lo - 1] <= reach and \
            level_db[firsts[lo - 1]:lasts[lo - 1] + 1].max() > -join_db:
        lo -= 1
    while hi < len(firsts) - 1 and firsts[hi + 1] - lasts[hi] <= reach and \
            level_db[firsts[hi + 1]:lasts[hi + 1] + 1].max() > -join_db:
        hi += 1
    return int(firsts[lo]), int(lasts[hi])


def trim_silence(x, sr: int, top_db: float, frame_s: float = 0.025,
                 hop_s: float = 0.010) -> np.ndarray:
    """Cut leading and trailing silence: the span found by :func:`silence_span`."""
    start, stop = silence_span(x, sr, top_db, frame_s, hop_s)
    return np.asarray(x)[start:stop]


def fix_length(x, n: int, align: str = "center") -> np.ndarray:
    """Zero-pad or crop to exactly ``n`` samples.

    ``center`` keeps the middle (cropping) or puts the clip in the middle (padding; an odd
    excess goes to the end); ``start`` keeps the beginning or pads at the end.
    """
    x = np.asarray(x)
    if align not in ("center", "start"):
        raise ConfigError(f"expected 'center' or 'start', got {align!r}", key="align")
    if n < 0:
        raise ConfigError(f"expected a length >= 0, got {n}", key="n")
    m = x.shape[0]
    if m >= n:
        start = (m - n) // 2 if align == "center" else 0
        return x[start:start + n].copy()
    before = (n - m) // 2 if align == "center" else 0
    out = np.zeros(n, dtype=x.dtype)
    out[before:before + m] = x
    return out


def mix_at_snr(x, noise, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add a random segment of ``noise`` to ``x`` at a signal-to-noise ratio of ``snr_db``.

    Notes
    -----
    The noise segment :math:`n` (same length as :math:`x`, tiled when shorter) is scaled by
    :math:`g = \\sqrt{P_x / (P_n 10^{\\mathrm{SNR}/10})}` with :math:`P = \\overline{s^2}`.
    A silent ``x`` or ``noise`` is returned unchanged.
    """
    x = np.asarray(x, dtype=np.float32)
    noise = np.asarray(noise, dtype=np.float32)
    if noise.size == 0:
        raise DataError("noise clip holds no samples")
    if noise.shape[0] < x.shape[0]:
        noise = np.tile(noise, -(-x.shape[0] // noise.shape[0]))
    start = int(rng.integers(0, noise.shape[0] - x.shape[0] + 1))
    seg = noise[start:start + x.shape[0]].astype(np.float64)
    p_x = float(np.mean(x.astype(np.float64) ** 2))
    p_n = float(np.mean(seg ** 2))
    if p_x <= 0 or p_n <= 0:
        return x.copy()
    gain = math.sqrt(p_x / (p_n * 10.0 ** (snr_db / 10.0)))
    return (x + gain * seg).astype(np.float32)


def mel_power(x, frontend: FrontEnd, warp: float = 1.0) -> np.ndarray:
    """Mel power spectrogram ``(n_mels, n_frames)`` float64 of a waveform at the front end's
    rate (the quantity :func:`log_mel` takes the logarithm of; see there), through filters
    warped by ``warp`` (:func:`mel_filterbank`)."""
    from scipy.signal import stft

    x = np.asarray(x, dtype=np.float64).ravel()
    if x.shape[0] < frontend.n_frame:
        x = np.concatenate([x, np.zeros(frontend.n_frame - x.shape[0])])
    _, _, spec = stft(x, fs=frontend.sample_rate_Hz, window="hann", nperseg=frontend.n_frame,
                      noverlap=frontend.n_frame - frontend.n_hop, nfft=frontend.n_fft,
                      boundary=None, padded=False, return_onesided=True)
    bank = _filterbank(frontend.n_mels, frontend.n_fft, frontend.sample_rate_Hz,
                       frontend.f_min_Hz, frontend.f_max_Hz, float(warp))
    return bank @ (np.abs(spec) ** 2)


@functools.lru_cache(maxsize=64)
def _filterbank(n_mels, n_fft, sr, f_min, f_max, warp) -> np.ndarray:
    bank = mel_filterbank(n_mels, n_fft, sr, f_min, f_max, warp=warp)
    bank.flags.writeable = False
    return bank


def _strongest_run(score: np.ndarray, kept: np.ndarray, gap: int) -> tuple[int, int]:
    """First and last frame of the run of kept frames (gaps up to ``gap`` frames bridged)
    with the largest summed score."""
    idx = np.flatnonzero(kept)
    breaks = np.flatnonzero(np.diff(idx) > gap + 1)
    firsts = np.concatenate([[idx[0]], idx[breaks + 1]])
    lasts = np.concatenate([idx[breaks], [idx[-1]]])
    sums = [score[a:b + 1].sum() for a, b in zip(firsts, lasts)]
    best = int(np.argmax(sums))
    return int(firsts[best]), int(lasts[best])


def speech_span(x, frontend: FrontEnd) -> tuple[int, int, np.ndarray | None]:
    r"""Where the word is in a clip at the front end's rate, and the noise around it.

    Returns ``(start, stop, noise)``: the sample span to keep and, for a noisy clip, the
    median mel power per channel ``(n_mels, 1)`` of the frames outside the span (else None).

    Notes
    -----
    A clip with silence (its quietest quarter of frames more than ``trim_db`` below the
    loudest) is trimmed by level, as :func:`silence_span`. A clip with a noise floor is not
    (every frame is within ``trim_db`` of the peak); there a frame's score is the mean over
    mel channels of :math:`\max(0, 10\log_{10}(P_{m,k} / \tilde P_m))`, with
    :math:`\tilde P_m` the channel's median over the clip (the noise floor when the word
    fills less than half of it), at least ``trim_db`` below the loudest cell. Frames scoring
    above ``vad_db`` are speech; runs closer than ``vad_gap_s`` merge, and the run with the
    largest summed score is the word (babble or a click elsewhere in the clip is left out).
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    top_db = frontend.trim_db
    if n == 0 or math.isinf(top_db):
        return 0, n, None
    power = mel_power(x, frontend)
    energy = power.sum(axis=0)
    peak = energy.max()
    if peak <= 0 or math.isinf(frontend.vad_db) or \
            np.percentile(energy, 25) <= peak * 10.0 ** (-top_db / 10.0):
        start, stop = silence_span(x, frontend.sample_rate_Hz, top_db, frontend.frame_s,
                                   frontend.hop_s, join_db=frontend.join_db)
        return start, stop, None
    floor = np.maximum(np.median(power, axis=1, keepdims=True),
                       max(power.max() * 10.0 ** (-top_db / 10.0), 1e-300))
    with np.errstate(divide="ignore"):
        score = np.mean(np.maximum(10.0 * np.log10(power / floor), 0.0), axis=0)
    kept = score > frontend.vad_db
    if not kept.any():
        return 0, n, None
    first, last = _strongest_run(score, kept, int(round(frontend.vad_gap_s / frontend.hop_s)))
    outside = np.concatenate([power[:, :max(first - 1, 0)], power[:, last + 2:]], axis=1)
    noise = np.median(outside, axis=1, keepdims=True) if outside.shape[1] >= 5 else floor
    return (first * frontend.n_hop, min(n, last * frontend.n_hop + frontend.n_frame),
            noise)


def preprocess(x, sr: int, frontend: FrontEnd) -> np.ndarray:
    """Resample to the front end's rate, trim to the word (:func:`speech_span`) and fix the
    length to one window."""
    y = resample(x, sr, frontend.sample_rate_Hz)
    start, stop, _ = speech_span(y, frontend)
    return fix_length(y[start:stop], frontend.n_window, frontend.align)


def speech_level_dbfs(x, sr: int, frontend: FrontEnd) -> float:
    """Active speech level: the RMS of the word (:func:`speech_span`) in dB full scale
    (-inf for silence)."""
    y = resample(x, sr, frontend.sample_rate_Hz).astype(np.float64)
    start, stop, _ = speech_span(y, frontend)
    power = float(np.mean(y[start:stop] ** 2)) if stop > start else 0.0
    return 10.0 * math.log10(power) if power > 0 else -math.inf


def match_level(x, sr: int, frontend: FrontEnd, target_dbfs: float,
                max_gain_db: float = 40.0) -> np.ndarray:
    """Automatic gain: scale a clip so its active speech level is ``target_dbfs`` (the gain
    bounded to +-``max_gain_db``; silence is returned unchanged)."""
    level = speech_level_dbfs(x, sr, frontend)
    x = np.asarray(x, dtype=np.float32)
    if not math.isfinite(level):
        return x.copy()
    gain_db = min(max(target_dbfs - level, -max_gain_db), max_gain_db)
    return (x * 10.0 ** (gain_db / 20.0)).astype(np.float32)


# --------------------------------------------------------------------------- features

def hz_to_mel(f_Hz):
    """HTK mel scale: :math:`m = 2595 \\log_{10}(1 + f / 700)`."""
    return 2595.0 * np.log10(1.0 + np.asarray(f_Hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel):
    """Inverse of :func:`hz_to_mel`: :math:`f = 700 (10^{m / 2595} - 1)`."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def vtlp_warp(f_Hz, alpha: float, f_max: float, f_hi_fraction: float = 0.6) -> np.ndarray:
    """Vocal-tract-length perturbation of frequencies (Jaitly & Hinton 2013).

    Piecewise linear: :math:`f' = \\alpha f` up to :math:`f_0 = f_{hi} \\min(\\alpha, 1) /
    \\alpha` with :math:`f_{hi}` = ``f_hi_fraction * f_max``, then the straight line from
    :math:`(f_0, \\alpha f_0)` to :math:`(f_{max}, f_{max})`, so the band edge stays put and
    the map is continuous and increasing. ``alpha`` > 1 moves formants up (a shorter vocal
    tract), < 1 down.
    """
    f = np.asarray(f_Hz, dtype=np.float64)
    if not alpha > 0:
        raise ConfigError(f"expected a warp factor > 0, got {alpha!r}", key="vtlp")
    f0 = f_hi_fraction * f_max * min(alpha, 1.0) / alpha
    upper = alpha * f0 + (f_max - alpha * f0) * (f - f0) / (f_max - f0)
    return np.where(f <= f0, alpha * f, upper)


def mel_filterbank(n_mels: int, n_fft: int, sr: int, f_min: float, f_max: float, *,
                   warp: float = 1.0) -> np.ndarray:
    """Triangular mel filters on the ``n_fft // 2 + 1`` FFT bin frequencies.

    Returns an ``(n_mels, n_fft // 2 + 1)`` float64 array.

    Notes
    -----
    HTK mel scale (:func:`hz_to_mel`). The ``n_mels + 2`` edge frequencies
    :math:`f_0 < f_1 < \\dots < f_{M+1}` are equally spaced in mel between ``f_min`` and
    ``f_max``; filter :math:`m` (0-based) rises from :math:`f_m` to its centre
    :math:`f_{m+1}` and falls to :math:`f_{m+2}`, evaluated at the bin frequencies
    :math:`f = k\\,\\mathrm{sr} / n_\\mathrm{fft}`:

    .. math:: w_m(f) = \\max\\left(0, \\min\\left(\\frac{f - f_m}{f_{m+1} - f_m},
              \\frac{f_{m+2} - f}{f_{m+2} - f_{m+1}}\\right)\\right)

    Peak height 1 (no area normalisation, as in HTK); neighbouring triangles cross at 1/2,
    so the columns sum to exactly 1 between the first and the last centre frequency.
    With ``warp`` != 1 the inner edge frequencies are moved by :func:`vtlp_warp` (the filters
    listen to a speaker with a vocal tract ``warp`` times shorter).

    Raises
    ------
    ConfigError
        A filter falls between two FFT bins (no nonzero weight): raise ``n_fft`` or lower
        ``n_mels``.
    """
    if n_mels < 1 or n_fft < 2:
        raise ConfigError(f"expected n_mels >= 1 and n_fft >= 2, got {n_mels}, {n_fft}",
                          key="n_mels")
    if not 0 <= f_min < f_max <= sr / 2:
        raise ConfigError(f"expected 0 <= f_min < f_max <= sr / 2 = {sr / 2:g}, got "
                          f"{f_min:g} and {f_max:g}", key="f_max_Hz")
    freqs = np.arange(n_fft // 2 + 1) * (sr / n_fft)
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    edges[0], edges[-1] = f_min, f_max          # exact, not via the mel round trip
    if warp != 1.0:
        edges[1:-1] = vtlp_warp(edges[1:-1], warp, f_max)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lower) / (centre - lower)
    falling = (upper - freqs[None, :]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    empty = np.flatnonzero(weights.max(axis=1) <= 0)
    if empty.size:
        raise ConfigError(f"mel filter {int(empty[0])} (centre {edges[empty[0] + 1]:.1f} Hz) "
                          f"contains no FFT bin at n_fft={n_fft}: raise the FFT length or "
                          "lower n_mels", key="n_mels")
    return weights


def log_mel(x, frontend: FrontEnd, noise=None, warp: float = 1.0) -> np.ndarray:
    """Log-mel energies of a waveform at the front end's sample rate.

    Returns ``(n_frames, n_mels)`` float32 with
    ``n_frames = 1 + (len(x) - n_frame) // n_hop`` (shorter input is zero-padded to one
    frame).

    Notes
    -----
    :func:`scipy.signal.stft` with a periodic Hann window of ``n_frame`` samples, hop
    ``n_hop``, FFT length ``n_fft`` and no edge padding; frame ``k`` starts at sample
    ``k * n_hop``. With scipy's ``spectrum`` scaling (divide by the window sum) a sine of
    amplitude :math:`A` at a bin frequency has :math:`|X| = A/2`. The feature is

    .. math:: F_{k,m} = \\ln\\left(\\sum_j w_{m,j} |X_{j,k}|^2 + \\epsilon\\right)

    with :math:`w` from :func:`mel_filterbank` and :math:`\\epsilon` = ``log_floor``. With a
    ``noise`` power per channel (``(n_mels, 1)``, from :func:`speech_span`) the mel power
    first loses ``denoise`` times it, floored at zero (spectral subtraction). With a finite
    ``floor_db`` the feature is relative to the loudest cell :math:`P_{max}` instead:
    :math:`F = \\ln(P + P_{max} 10^{-\\mathrm{floor\\_db}/10}) - \\ln P_{max}`, in
    :math:`[-\\mathrm{floor\\_db} \\ln 10 / 10, 0]` whatever the recording level.
    """
    power = mel_power(x, frontend, warp)
    if noise is not None and frontend.denoise > 0:
        power = np.maximum(power - frontend.denoise * np.asarray(noise, np.float64), 0.0)
    if math.isinf(frontend.floor_db):
        return np.log(power + frontend.log_floor).T.astype(np.float32)
    peak = max(float(power.max()), frontend.log_floor)
    floor = peak * 10.0 ** (-frontend.floor_db / 10.0)
    return (np.log(power + floor) - math.log(peak + floor)).T.astype(np.float32)


def stretch_frames(frames: np.ndarray, n: int) -> np.ndarray:
    """``(k, m)`` frames linearly interpolated in time onto ``n`` frames spanning the same
    interval (first and last frames kept)."""
    frames = np.asarray(frames)
    k = frames.shape[0]
    if k == n:
        return frames
    if k == 1:
        return np.repeat(frames, n, axis=0)
    pos = np.linspace(0.0, k - 1.0, n)
    lo = np.minimum(np.floor(pos).astype(np.int64), k - 2)
    frac = (pos - lo)[:, None]
    return ((1.0 - frac) * frames[lo] + frac * frames[lo + 1]).astype(frames.dtype)


def _utterance_norm(feats: np.ndarray, how: str) -> np.ndarray:
    if how == "none":
        return feats
    out = feats - feats.mean(axis=0, keepdims=True)
    if how == "mean_var":
        out = out / np.maximum(feats.std(axis=0, keepdims=True), 1e-3)
    return out.astype(np.float32)


def extract(x, sr: int, frontend: FrontEnd, warp: float = 1.0) -> np.ndarray:
    """Resample, find the word (:func:`speech_span`) and take :func:`log_mel` with the noise
    measured around the word subtracted: ``(frontend.n_frames, n_mels)`` float32.

    With ``time_axis = "window"`` the word is padded or cropped to one window first; with
    ``"word"`` the word's own frames are stretched to the window's frame count
    (:func:`stretch_frames`). ``utterance_norm`` then normalises each channel over the word.
    ``warp`` is a vocal-tract-length perturbation of the filters (training augmentation).
    """
    y = resample(x, sr, frontend.sample_rate_Hz)
    start, stop, noise = speech_span(y, frontend)
    if frontend.time_axis == "word":
        word = log_mel(y[start:stop], frontend, noise, warp)
        norm = _utterance_norm(word, frontend.utterance_norm)
        return stretch_frames(norm, frontend.n_frames)
    feats = log_mel(fix_length(y[start:stop], frontend.n_window, frontend.align), frontend,
                    noise, warp)
    if frontend.utterance_norm == "none":
        return feats
    first = (frontend.n_window - (stop - start)) // 2 if frontend.align == "center" else 0
    span = slice(max(first // frontend.n_hop, 0),
                 max(min((first + stop - start) // frontend.n_hop, len(feats)), 1))
    out = feats.copy()
    out[span] = _utterance_norm(feats[span], frontend.utterance_norm)
    return out


def fit_normalizer(features, min_std: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation over all frames of the training features.

    Parameters
    ----------
    features : array (n_samples, n_frames, n_channels) or (n_frames, n_channels), or a
        sequence of (n_frames_i, n_channels) arrays
    min_std : float
        Floor on the standard deviation, so constant channels are not divided by zero.

    Returns
    -------
    mean, std : ndarray (n_channels,) float64
    """
    if isinstance(features, np.ndarray):
        flat = features.reshape(-1, features.shape[-1])
    else:
        flat = np.concatenate([np.asarray(f).reshape(-1, np.asarray(f).shape[-1])
                               for f in features])
    flat = np.asarray(flat, dtype=np.float64)
    if flat.shape[0] == 0:
        raise DataError("no feature frames to fit the normalizer on")
    return flat.mean(axis=0), np.maximum(flat.std(axis=0), min_std)


def normalize_channels(features, mean, std) -> np.ndarray:
    """Standardise each channel: ``(features - mean) / std`` (float32, broadcast on the last
    axis)."""
    features = np.asarray(features, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    if mean.shape != (features.shape[-1],) or std.shape != mean.shape:
        raise ConfigError(f"normalizer has {mean.shape} / {std.shape} statistics for "
                          f"{features.shape[-1]} channels", key="normalize")
    return ((features - mean) / std).astype(np.float32)
