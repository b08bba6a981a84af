"""Audio in, rates out: a kws model's input pipeline, word finding and streaming.

The pipeline is the training one exactly (:func:`neuromem.data.audio.extract`, then the
normaliser and rate range fitted on the training split), so a clip gives the same rates at
train time and after loading. On top of it:

* :func:`word_segments` finds the words of a clip or a window: frames whose energy lies
  ``gate_db`` above the noise floor are speech, pauses of ``gap_s`` or more separate words,
  bursts shorter than ``min_word_s`` are dropped. A clip with several words (or longer than
  the window) is answered word by word instead of being cropped to the middle of the phrase.
* :func:`stream_segments` slides a window of ``window_s`` by ``hop_s`` over a long recording
  and yields every word once, when it lies whole inside a window (what an always-on edge
  device sees: bounded memory, one window at a time).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from neuromem.data.audio import FrontEnd, mel_power, read_wav, resample
from neuromem.exceptions import ConfigError, DataError

__all__ = ["Segment", "read_clip", "read_clips", "word_segments", "noise_floor",
           "in_context", "stream_segments"]


@dataclasses.dataclass(frozen=True)
class Segment:
    """A word: samples ``[start, stop)`` of the recording (at the front end's rate)."""

    start: int
    stop: int
    peak: float       # largest frame energy inside it (mel power, summed over channels)


def read_clip(path) -> tuple[np.ndarray, int]:
    """One WAV file (any PCM width or float, mono or stereo, any rate): float32 samples and
    the rate. Errors name the file (:func:`neuromem.data.audio.read_wav`)."""
    return read_wav(path)


def read_clips(paths, *, skip_bad: bool = False):
    """Read every file before any work is done.

    Returns ``(clips, kept, bad)``: the (waveform, rate) pairs of the readable files, their
    indices into ``paths`` and ``(path, reason)`` of the others. Without ``skip_bad`` the
    first unreadable file raises its one-line :class:`DataError`.
    """
    clips, kept, bad = [], [], []
    for i, p in enumerate(paths):
        try:
            clips.append(read_wav(p))
            kept.append(i)
        except DataError as err:
            if not skip_bad:
                raise
            bad.append((str(p), str(err)))
    return clips, kept, bad


def _frame_energy(y: np.ndarray, frontend: FrontEnd) -> np.ndarray:
    return mel_power(y, frontend).sum(axis=0)


def noise_floor(y: np.ndarray, frontend: FrontEnd) -> float:
    """The recording's noise floor: the 10th percentile of its frame energies, but no lower
    than ``trim_db`` below its loudest frame (digital silence has no floor of its own)."""
    e = _frame_energy(y, frontend)
    if e.size == 0 or e.max() <= 0:
        return 0.0
    return float(max(np.percentile(e, 10), e.max() * 10.0 ** (-frontend.trim_db / 10.0)))


def word_segments(y: np.ndarray, frontend: FrontEnd, *, gate_db: float, gap_s: float,
                  min_word_s: float, floor: float | None = None) -> list[Segment]:
    """The words of ``y`` (at the front end's rate), in order (see the module docstring)."""
    y = np.asarray(y, dtype=np.float64)
    if y.shape[0] < frontend.n_frame:
        return []
    e = _frame_energy(y, frontend)
    floor = noise_floor(y, frontend) if floor is None else floor
    if e.max() <= 0:
        return []
    speech = e > max(floor, 1e-30) * 10.0 ** (gate_db / 10.0)
    idx = np.flatnonzero(speech)
    if idx.size == 0:
        return []
    gap = max(int(round(gap_s / frontend.hop_s)), 1)
    breaks = np.flatnonzero(np.diff(idx) > gap)
    firsts = np.concatenate([[idx[0]], idx[breaks + 1]])
    lasts = np.concatenate([idx[breaks], [idx[-1]]])
    out = []
    hop, frame = frontend.n_hop, frontend.n_frame
    for a, b in zip(firsts, lasts):
        start, stop = int(a) * hop, min(y.shape[0], int(b) * hop + frame)
        if (stop - start) / frontend.sample_rate_Hz >= min_word_s:
            out.append(Segment(start, stop, float(e[a:b + 1].max())))
    return out


def in_context(y: np.ndarray, seg: Segment, others, frontend: FrontEnd,
               pad_s: float = 0.05) -> np.ndarray:
    """One window of the recording centred on the word, other words muted.

    Training clips are whole windows with the word somewhere inside and silence or noise
    around it; a word cut out tightly would look different to the front end (no silence:
    the noise-floor path). So the word keeps its real surroundings, the samples of the other
    words in the window (each +-``pad_s``) are set to zero, and the edges of the recording
    are padded with zeros. A word longer than the window is returned whole.
    """
    n_win = frontend.n_window
    pad = int(round(pad_s * frontend.sample_rate_Hz))
    if seg.stop - seg.start + 2 * pad >= n_win:
        return np.array(y[max(0, seg.start - pad):min(y.shape[0], seg.stop + pad)])
    a = (seg.start + seg.stop) // 2 - n_win // 2
    out = np.zeros(n_win, dtype=np.float32)
    lo, hi = max(a, 0), min(a + n_win, y.shape[0])
    out[lo - a:hi - a] = y[lo:hi]
    for o in others:
        if o is seg or o.stop + pad <= a or o.start - pad >= a + n_win:
            continue
        # words are at least gap_s > 2 pad_s apart, so this never reaches the word itself
        out[max(o.start - pad - a, 0):max(min(o.stop + pad - a, n_win), 0)] = 0.0
    return out


def at_rate(x, sr: int, frontend: FrontEnd) -> np.ndarray:
    """A waveform resampled to the front end's rate (float32)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1, dtype=np.float64).astype(np.float32)
    if x.ndim != 1:
        raise ConfigError(f"expected a mono waveform (n,) or (n, channels), got shape "
                          f"{x.shape}", key="x")
    if not np.all(np.isfinite(x)):
        raise DataError("the waveform holds non-finite samples")
    return resample(x, int(sr), frontend.sample_rate_Hz)


def stream_segments(y: np.ndarray, frontend: FrontEnd, *, window_s: float, hop_s: float,
                    gate_db: float, gap_s: float, min_word_s: float):
    """Slide over a long recording; return ``(segments, windows)``.

    ``segments``: every word once, from the first window that holds it whole (a word cut by a
    window's end waits for a later window; one longer than the window is taken from the
    window it fills; words up to ``window_s - hop_s`` long are always seen whole).
    ``windows``: the start sample of each window. The noise floor is the
    recording's (:func:`noise_floor`, one number for the whole stream).
    """
    n_win = int(round(window_s * frontend.sample_rate_Hz))
    n_hop = max(int(round(hop_s * frontend.sample_rate_Hz)), 1)
    if n_win < frontend.n_frame:
        raise ConfigError(f"the stream window {window_s:g} s is shorter than a frame",
                          key="readout.window_s")
    floor = noise_floor(y, frontend)
    n = y.shape[0]
    starts = list(range(0, max(n - n_win, 0) + 1, n_hop))
    if starts[-1] + n_win < n:
        starts.append(n - n_win)
    edge = frontend.n_hop
    found: list[Segment] = []
    last_stop = -1
    for t in starts:
        window = y[t:t + n_win]
        last = t + n_win >= n
        for seg in word_segments(window, frontend, gate_db=gate_db, gap_s=gap_s,
                                 min_word_s=min_word_s, floor=floor):
            cut_end = seg.stop >= window.shape[0] - edge and not last
            cut_start = seg.start <= edge and t > 0
            if cut_start != cut_end:
                # cut on one side only: whole in an earlier window (cut at its start) or a
                # later one (cut at its end); cut on both sides: longer than the window
                continue
            a, b = t + seg.start, t + seg.stop
            if a < last_stop:                              # already taken (overlap)
                continue
            found.append(Segment(a, b, seg.peak))
            last_stop = b
    return found, starts
