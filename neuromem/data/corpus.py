"""The synthesized keyword corpus (``synth_kws``): the default keyword-spotting dataset.

The ten keywords of Speech Commands (Warden 2018: yes no up down left right on off stop go),
and the non-keywords and background clips of its 12-class protocol, are spoken by espeak-ng
(:mod:`neuromem.data.synth`) with every installed voice variant (104 timbres) in every English
accent (8), at several speaking rates and pitches, then augmented: time shift, gain, training
augmentation (vocal-tract length, room, channel) and, optionally, procedurally generated
background noise at a set SNR. Clips are 1 s at 16 kHz, 16-bit (like Speech Commands),
returned as float32.

Splits are voice-disjoint
    A voice *variant* is the speaker: the variants are shuffled (seeded) and dealt to train /
    validation / test by ``split_fractions`` (default 70/15/15: 73/16/15 of 104), so no
    variant is heard in two splits. Accents, rates and pitches are shared, like dialects
    across the speakers of a real corpus. Clips are dealt to splits in proportion to their
    variants; within a split the labels rotate, so classes are balanced to one clip.

Which clips
    With ``n_clips`` set, each (split, word) cell draws its clips without replacement from all
    (variant, accent, rate, pitch) combinations of that split (repeating the combinations only
    when it needs more clips than there are); ``n_clips=None`` takes every combination once.

SNR
    :func:`add_noise` scales the noise so that ``10 log10(P_s / P_n) = snr_db`` exactly, with
    ``P_s`` the mean square of the signal over its *active part* (the span of the word: from
    the first to the last sample reaching -40 dB of the peak, see :func:`active_part`; in the
    corpus, the placed word) and ``P_n`` the mean square of the added noise over the *whole*
    clip. A short word therefore gets the same SNR as a long one (the convention of active
    speech level, ITU-T P.56), where a whole-clip signal power would bury short words.

Noise (no noise recordings exist here: all noise is generated from the clip's seed)
    ``white``; ``pink`` (1/f power) and ``brown`` (1/f^2) from shaped white noise, flat below
    20 Hz; ``hum``: 50 or 60 Hz mains hum with 8 harmonics (amplitude 1/k, random phases) over
    a white floor 30 dB down; ``babble``: 4-7 overlapping non-keyword words (Speech Commands'
    fillers: bed, bird, cat, ...) spoken by voices *of the same split* (so noise never leaks
    a voice across splits), each 0-6 dB down. Each clip draws one kind from ``noise_kinds``.

The 12-class protocol
    With ``unknown_fraction`` and ``silence_fraction`` > 0 (the card's default: 1/12 each,
    as large as a keyword class) the corpus also holds ``_unknown_`` clips (one of 25 other
    words, spoken like the keywords, by voices of the same split) and ``_silence_`` clips
    (a background of one of ``noise_kinds`` alone, RMS U(silence_dbfs)): a spotter must
    reject non-keywords and noise, not only tell keywords apart. Label order: the keywords,
    then ``_unknown_``, then ``_silence_``.

Training augmentation (training split only; validation and test stay as spoken)
    Each of ``augment``'s pieces is applied to a training clip with probability
    ``augment_prob``, drawn from the clip's own stream ``spawn_key=(1, i, 2)``, so switching
    a piece off changes nothing else:
    ``vtlp``: a vocal-tract-length perturbation factor U(vtlp_range) recorded per clip; the
    front end warps its mel filters by it when it computes the clip's training features
    (Jaitly & Hinton 2013) -- speakers with longer and shorter vocal tracts than espeak's;
    ``reverb``: the clip convolved with the impulse response of a diffuse room (the direct
    sound and an exponentially decaying Gaussian tail, -60 dB after RT60 ~ U(rt60_s), the
    tail U(0, 12) dB below the direct sound), rescaled to the word's level;
    ``channel``: after the noise, one of a telephone band (4th-order Butterworth,
    300-3400 Hz), a cheap microphone's low-pass (6th order, 3-7 kHz), a high-pass (2nd
    order, 100-500 Hz) or a spectral tilt (first-order pre-/de-emphasis, coefficient
    U(-0.8, 0.8)), rescaled to the clip's RMS.

Order of operations per clip: synthesize (22.05 kHz) -> trim to the word (-40 dB of the peak,
5 ms margins) -> resample to 16 kHz (``scipy.signal.resample_poly``) -> scale to an RMS of
``level_dbfs`` -> place in the 1 s window, centred then shifted by U(-shift_s, shift_s) (kept
inside the window; a word longer than the window is centre-cropped) -> reverb -> add noise
-> channel -> gain U(gain_db) -> round to 16 bits (clipping counted).

Determinism
    The plan (splits, clips) draws from ``SeedSequence(seed, spawn_key=(0,))``; clip ``i``'s
    augmentation from ``spawn_key=(1, i, 0)`` and its noise from ``(1, i, 1)``. The words
    themselves depend only on their arguments (see :mod:`neuromem.data.synth`); the
    augmentation draws from ``(1, i, 2)``. So the same
    config gives bit-identical clips serially or in a process pool of any size. The clean and
    noisy corpora of one seed share clips, shifts and gains.

Cache
    :func:`load_corpus` keeps corpora as HDF5 files ``synth_kws-<key>.h5`` in ``cache_dir``
    (default ``$NEUROMEM_CACHE`` or ``~/.cache/neuromem``), ``key`` a hash of the resolved
    config and the espeak-ng version, written atomically (tmp + fsync + ``os.replace``) with
    Fletcher-32 checksums; a damaged or mismatching file is reported (``UserWarning``) and
    regenerated.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import functools
import hashlib
import json
import math
import multiprocessing
import os
import warnings
from pathlib import Path

import numpy as np

from neuromem._files import atomic_write
from neuromem.data.augment import AUGMENTATIONS, CHANNELS, colour_channel, room_response
from neuromem.data.noise import NOISE_KINDS, active_part, add_noise, make_noise
from neuromem.exceptions import ConfigError, DataError
from neuromem.schema import closest

__all__ = ["KEYWORDS", "FILLER_WORDS", "NOISE_KINDS", "SPLITS", "CorpusConfig", "Corpus",
           "load_corpus", "generate_corpus", "add_noise", "active_part", "make_noise",
           "default_cache_dir", "cache_path", "config_from_card"]

#: The 10 keywords of the Speech Commands 12-class task (Warden 2018).
KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
#: Speech Commands' non-keywords: the words babble noise is made of.
FILLER_WORDS = ("bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree",
                "wow", "zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                "nine", "backward", "follow", "forward", "learn", "visual")
#: Split names, as in :mod:`neuromem.data.loaders`.
SPLITS = ("train", "validation", "test")

_FORMAT = "neuromem-synth-kws"
_FORMAT_VERSION = 2          # bump when the generator changes what a config produces
_CHUNK_CLIPS = 50            # clips per pool task (results do not depend on it)
_BANK_SIZE = 24              # babble words per split
_TRIM_MARGIN_S = 0.005
_N_RECORDS = 10              # per clip: shift_s, gain_db, snr_db, noise, clipped, word span,
                             # warp (VTLP), channel, rt60_s
#: Extra classes of the Speech Commands 12-class protocol (after the keywords here).
UNKNOWN, SILENCE = "_unknown_", "_silence_"
#: Voice families: every variant, the variants on espeak-ng's Klatt synthesizers, the others.
FAMILIES = ("all", "klatt", "formant")


def _tuple(value, name: str, kind) -> tuple:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ConfigError(f"expected a list, got {value!r}", key=name)
    items = tuple(value)
    for item in items:
        ok = isinstance(item, kind) and not isinstance(item, bool)
        if not ok:
            raise ConfigError(f"expected a list of {kind.__name__}, got {item!r}", key=name)
    if not items or len(set(items)) != len(items):
        raise ConfigError(f"expected a non-empty list without duplicates, got {value!r}",
                          key=name)
    return items


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"expected a finite number, got {value!r}", key=name)
    return float(value)


def _range(value, name: str) -> tuple[float, float]:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        lo, hi = (_number(v, name) for v in value)
        if lo <= hi:
            return lo, hi
    raise ConfigError(f"expected [low, high] with low <= high, got {value!r}", key=name)


@dataclasses.dataclass(frozen=True)
class CorpusConfig:
    """What the synthesized keyword corpus holds (every field is part of the cache key).

    Parameters
    ----------
    words : tuple of str
        The classes, in label order (default :data:`KEYWORDS`).
    accents : tuple of str, optional
        English accents (:func:`~neuromem.data.synth.english_accents`); None = all installed.
    variants : tuple of str, optional
        Voice variants (:func:`~neuromem.data.synth.voice_variants`); None = all installed.
    n_variants : int, optional
        Use a seeded subset of this many of `variants` (None = all of them).
    rates_wpm : tuple of int, words per minute
        Speaking rates, each in [80, 450].
    pitches : tuple of int
        Base pitches on espeak's 0-100 scale.
    n_clips : int, optional
        Number of clips (sampled without replacement per split and word); None = every
        (word, variant, accent, rate, pitch) combination once.
    snr_db : float or (float, float), dB, optional
        Background noise SNR (see the module docstring), fixed or uniform in a range;
        None = clean.
    noise_kinds : tuple of str
        Noise kinds drawn uniformly per clip, from :data:`NOISE_KINDS`.
    shift_s : float, s
        Largest time shift of the word from the centre of the window (uniform, +-).
    gain_db : (float, float), dB
        Range of the gain applied to the finished clip (uniform).
    level_dbfs : float, dB re full scale
        RMS of the word before the gain.
    split_fractions : (float, float, float)
        Fractions of the voice variants in train, validation and test (sum 1; a corpus
        for evaluation only may put everything in test).
    seed : int
        Seed of all draws (numpy SeedSequence).
    sample_rate_Hz : int, Hz
    duration_s : float, s
        Clip length.
    family : str
        Voice family of the variants: ``all``, ``klatt`` (the variants on espeak-ng's Klatt
        synthesizers, :func:`~neuromem.data.synth.klatt_variants`) or ``formant`` (the
        others): a family can be held out of training and tested on alone.
    unknown_fraction, silence_fraction : float
        Shares of the clips labelled ``_unknown_`` (one of `unknown_words`, spoken like the
        keywords) and ``_silence_`` (background alone): the Speech Commands 12-class
        protocol. 0 leaves the class out.
    unknown_words : tuple of str
        The non-keywords (default: Speech Commands' 25 other words).
    silence_dbfs : (float, float), dB re full scale
        RMS range of a ``_silence_`` clip's background before the gain (uniform).
    augment : tuple of str
        Training-split augmentations (:data:`AUGMENTATIONS`), each applied to a training
        clip with probability `augment_prob`: ``vtlp`` (a warp factor in `vtlp_range` for
        the front end's mel filters, :func:`neuromem.data.audio.vtlp_warp`), ``channel``
        (one of :data:`CHANNELS`), ``reverb`` (a simulated room, RT60 in `rt60_s`).
    augment_prob : float
    vtlp_range : (float, float)
    rt60_s : (float, float), s
    """

    words: tuple[str, ...] = KEYWORDS
    accents: tuple[str, ...] | None = None
    variants: tuple[str, ...] | None = None
    n_variants: int | None = None
    rates_wpm: tuple[int, ...] = (130, 155, 175, 200, 230)
    pitches: tuple[int, ...] = (30, 40, 50, 60, 70)
    n_clips: int | None = 9600
    snr_db: float | tuple[float, float] | None = None
    noise_kinds: tuple[str, ...] = NOISE_KINDS
    shift_s: float = 0.1
    gain_db: tuple[float, float] = (-6.0, 6.0)
    level_dbfs: float = -26.0
    split_fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    seed: int = 0
    sample_rate_Hz: int = 16000
    duration_s: float = 1.0
    family: str = "all"
    unknown_fraction: float = 0.0834
    unknown_words: tuple[str, ...] = FILLER_WORDS
    silence_fraction: float = 0.0834
    silence_dbfs: tuple[float, float] = (-65.0, -35.0)
    augment: tuple[str, ...] = AUGMENTATIONS
    augment_prob: float = 0.5
    vtlp_range: tuple[float, float] = (0.85, 1.15)
    rt60_s: tuple[float, float] = (0.15, 0.7)

    @property
    def label_names(self) -> tuple[str, ...]:
        """The class names in label order: the words, then ``_unknown_`` and ``_silence_``
        when the corpus has them."""
        return (self.words + ((UNKNOWN,) if self.unknown_fraction > 0 else ())
                + ((SILENCE,) if self.silence_fraction > 0 else ()))

    def __post_init__(self):
        from neuromem.data.synth import PITCH_RANGE, RATE_RANGE_WPM

        def put(name, value):
            object.__setattr__(self, name, value)

        put("words", _tuple(self.words, "words", str))
        for name in ("accents", "variants"):
            if getattr(self, name) is not None:
                put(name, _tuple(getattr(self, name), name, str))
        for name, bounds in (("rates_wpm", RATE_RANGE_WPM), ("pitches", PITCH_RANGE)):
            values = _tuple(getattr(self, name), name, int)
            if not all(bounds[0] <= v <= bounds[1] for v in values):
                raise ConfigError(f"expected values in [{bounds[0]}, {bounds[1]}], got "
                                  f"{list(values)}", key=name)
            put(name, values)
        for name in ("n_variants", "n_clips"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ConfigError(f"expected a positive integer or None, got {value!r}",
                                  key=name)
        if self.snr_db is not None:
            put("snr_db", _range(self.snr_db, "snr_db") if isinstance(self.snr_db, (list, tuple))
                else _number(self.snr_db, "snr_db"))
        kinds = _tuple(self.noise_kinds, "noise_kinds", str)
        for kind in kinds:
            if kind not in NOISE_KINDS:
                raise ConfigError(f"unknown noise kind {kind!r}{closest(kind, NOISE_KINDS)}; "
                                  f"known: {', '.join(NOISE_KINDS)}", key="noise_kinds")
        put("noise_kinds", kinds)
        put("gain_db", _range(self.gain_db, "gain_db"))
        put("level_dbfs", _number(self.level_dbfs, "level_dbfs"))
        shift = _number(self.shift_s, "shift_s")
        if shift < 0:
            raise ConfigError(f"expected a value >= 0, got {shift}", key="shift_s")
        put("shift_s", shift)
        fr = self.split_fractions
        if (not isinstance(fr, (list, tuple)) or len(fr) != 3
                or any(_number(f, "split_fractions") < 0 for f in fr)
                or abs(sum(fr) - 1) > 1e-9):
            raise ConfigError("expected three fractions >= 0 (train, validation, test) "
                              f"summing to 1, got {fr!r}", key="split_fractions")
        put("split_fractions", tuple(float(f) for f in fr))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"expected an integer >= 0, got {self.seed!r}", key="seed")
        if (isinstance(self.sample_rate_Hz, bool) or not isinstance(self.sample_rate_Hz, int)
                or not 4000 <= self.sample_rate_Hz <= 48000):
            raise ConfigError(f"expected an integer in [4000, 48000], got "
                              f"{self.sample_rate_Hz!r}", key="sample_rate_Hz")
        duration = _number(self.duration_s, "duration_s")
        if not 0.1 <= duration <= 10:
            raise ConfigError(f"expected a value in [0.1, 10], got {duration}", key="duration_s")
        put("duration_s", duration)
        if self.family not in FAMILIES:
            raise ConfigError(f"unknown voice family {self.family!r}"
                              f"{closest(str(self.family), FAMILIES)}; known: "
                              f"{', '.join(FAMILIES)}", key="family")
        for name in ("unknown_fraction", "silence_fraction", "augment_prob"):
            value = _number(getattr(self, name), name)
            if not 0 <= value <= 1:
                raise ConfigError(f"expected a fraction in [0, 1], got {value}", key=name)
            put(name, value)
        if self.unknown_fraction + self.silence_fraction >= 1:
            raise ConfigError("unknown_fraction + silence_fraction must leave room for the "
                              f"keywords, got {self.unknown_fraction} + "
                              f"{self.silence_fraction}", key="unknown_fraction")
        put("unknown_words", _tuple(self.unknown_words, "unknown_words", str))
        clash = set(self.unknown_words) & set(self.words)
        if clash:
            raise ConfigError(f"{', '.join(sorted(clash))} cannot be both a keyword and an "
                              "unknown word", key="unknown_words")
        put("silence_dbfs", _range(self.silence_dbfs, "silence_dbfs"))
        augment = () if not self.augment else _tuple(self.augment, "augment", str)
        for item in augment:
            if item not in AUGMENTATIONS:
                raise ConfigError(f"unknown augmentation {item!r}"
                                  f"{closest(item, AUGMENTATIONS)}; known: "
                                  f"{', '.join(AUGMENTATIONS)}", key="augment")
        put("augment", augment)
        lo, hi = _range(self.vtlp_range, "vtlp_range")
        if lo <= 0:
            raise ConfigError(f"expected warp factors > 0, got {[lo, hi]}", key="vtlp_range")
        put("vtlp_range", (lo, hi))
        lo, hi = _range(self.rt60_s, "rt60_s")
        if lo <= 0 or hi > 3:
            raise ConfigError(f"expected reverberation times in (0, 3] s, got {[lo, hi]}",
                              key="rt60_s")
        put("rt60_s", (lo, hi))

    @classmethod
    def from_mapping(cls, data, *, file=None) -> CorpusConfig:
        """Build from a card's ``[parameters]`` table; ``"all"`` stands for None where None
        means everything (``variants``, ``n_variants``, ``n_clips``, ``accents``)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {}
        for key, value in dict(data).items():
            if key not in fields:
                raise ConfigError(f"unknown key{closest(key, fields)}; known keys: "
                                  f"{', '.join(sorted(fields))}", file=file,
                                  key=f"parameters.{key}")
            if value == "all" and key in ("variants", "n_variants", "n_clips", "accents"):
                value = None
            if key == "augment" and isinstance(value, str):
                value = () if value in ("", "none") else tuple(value.split(","))
            values[key] = value
        try:
            return cls(**values)
        except ConfigError as err:
            raise ConfigError(err.reason, file=file, key=f"parameters.{err.key}") from None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def config_from_card(name_or_path="synth_kws") -> CorpusConfig:
    """The :class:`CorpusConfig` of a ``synth_kws`` dataset card (built-in name or path).

    The card's ``[parameters.front_end]`` and ``[parameters.encoder]`` tables describe the
    processing after the corpus and are not part of it.
    """
    from neuromem.cards import find_card, load_toml

    path = find_card(name_or_path, "datasets")
    data = load_toml(path)
    if data.get("kind") != "synth_kws":
        raise ConfigError(f"expected kind = 'synth_kws', got {data.get('kind')!r}", file=path,
                          key="kind")
    table = dict(data.get("parameters", {}))
    table.pop("front_end", None)
    table.pop("encoder", None)
    return CorpusConfig.from_mapping(table, file=path)


@dataclasses.dataclass(frozen=True, eq=False)
class Corpus:
    """A synthesized keyword corpus: clips and, per clip, how it was made.

    Attributes
    ----------
    waveforms : ndarray of float32, shape (n, sample_rate_Hz * duration_s)
        16-bit samples / 32768.
    labels : ndarray of int64, shape (n,)
        Index into `label_names`.
    label_names : tuple of str
    split : ndarray of str, shape (n,)
        ``"train"``, ``"validation"`` or ``"test"`` (voice-disjoint).
    voice : ndarray of int64
        Index into `voices` (the voice variant: the speaker).
    voices : tuple of str
    accent : ndarray of int64
        Index into `accents`.
    accents : tuple of str
    rate_wpm, pitch : ndarray of int64
    shift_s, gain_db : ndarray of float64
        The time shift applied (s, after keeping the word inside the window) and the gain (dB).
    snr_db : ndarray of float64
        NaN for clean clips.
    noise : ndarray of int64
        Index into `noise_kinds`, -1 for clean clips.
    noise_kinds : tuple of str
    clipped : ndarray of int64
        Samples clipped at 16-bit full scale.
    word_span : ndarray of int64, shape (n, 2)
        Where the word is: samples ``[start, stop)`` of the clip (the active part of the SNR;
        ``[0, 0)`` for ``_silence_`` clips).
    text : ndarray of str
        What was spoken ("" for ``_silence_``): the keyword, or the unknown word.
    warp : ndarray of float64
        Vocal-tract-length perturbation factor for the front end's filters (1: none).
    channel : ndarray of int64
        Index into :data:`CHANNELS` of the channel colouring applied, -1 for none.
    rt60_s : ndarray of float64
        Reverberation time of the simulated room, NaN for none.
    sample_rate_Hz : int
    config : CorpusConfig
    path : Path or None
        The cache file it was read from or written to.
    """

    waveforms: np.ndarray
    labels: np.ndarray
    label_names: tuple[str, ...]
    split: np.ndarray
    voice: np.ndarray
    voices: tuple[str, ...]
    accent: np.ndarray
    accents: tuple[str, ...]
    rate_wpm: np.ndarray
    pitch: np.ndarray
    shift_s: np.ndarray
    gain_db: np.ndarray
    snr_db: np.ndarray
    noise: np.ndarray
    noise_kinds: tuple[str, ...]
    clipped: np.ndarray
    word_span: np.ndarray
    text: np.ndarray
    warp: np.ndarray
    channel: np.ndarray
    rt60_s: np.ndarray
    sample_rate_Hz: int
    config: CorpusConfig
    path: Path | None = None

    def __len__(self) -> int:
        return int(self.labels.size)

    def select(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """``(waveforms, labels)`` of one split."""
        mask = self.mask(split)
        return self.waveforms[mask], self.labels[mask]

    def mask(self, split: str) -> np.ndarray:
        """Boolean mask of one split's clips."""
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}{closest(split, SPLITS)}; "
                              f"known: {', '.join(SPLITS)}", key="split")
        return self.split == split


# ------------------------------------------------------------------------------ the clip plan

def _apportion(total: int, weights) -> np.ndarray:
    """Integers proportional to `weights` summing to `total` (largest remainder)."""
    w = np.asarray(weights, dtype=np.float64)
    exact = total * w / w.sum()
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:total - counts.sum()]] += 1
    return counts


@dataclasses.dataclass(frozen=True)
class _Plan:
    variants: tuple[str, ...]
    accents: tuple[str, ...]
    variant_split: np.ndarray            # split index of each variant
    clips: np.ndarray                    # (n, 7): label, variant, accent, rate, pitch, split,
                                         # text (index into words + unknown_words; -1 silence)
    bank: tuple                          # per split: ((word, variant, accent, rate, pitch), ...)


def _resolve_voices(config: CorpusConfig) -> tuple[tuple[str, ...], tuple[str, ...]]:
    from neuromem.data import synth
    installed_a, installed_v = synth.english_accents(), synth.voice_variants()
    accents = config.accents or installed_a
    variants = tuple(sorted(config.variants or installed_v))
    for name, chosen, have in (("accents", accents, installed_a),
                               ("variants", variants, installed_v)):
        for item in chosen:
            if item not in have:
                raise ConfigError(f"{item!r} is not installed{closest(item, have)}", key=name)
    if config.family != "all":
        klatt = set(synth.klatt_variants())
        variants = tuple(v for v in variants if (v in klatt) == (config.family == "klatt"))
        if not variants:
            raise ConfigError(f"no voice variant of the {config.family!r} family among "
                              "the chosen variants", key="family")
    return variants, accents


def _class_counts(total: int, config: CorpusConfig) -> tuple[int, int, int]:
    """(keyword, unknown, silence) clips among ``total``."""
    n_unknown = int(round(config.unknown_fraction * total))
    n_silence = int(round(config.silence_fraction * total))
    return total - n_unknown - n_silence, n_unknown, n_silence


def _plan(config: CorpusConfig) -> _Plan:
    variants, accents = _resolve_voices(config)
    rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(0,)))
    if config.n_variants is not None:
        if config.n_variants > len(variants):
            raise ConfigError(f"asked for {config.n_variants} variants, {len(variants)} "
                              "available", key="n_variants")
        variants = tuple(sorted(str(v) for v in rng.choice(variants, config.n_variants,
                                                           replace=False)))
    fractions = np.array(config.split_fractions)
    counts = _apportion(len(variants), fractions)
    for s in np.flatnonzero((fractions > 0) & (counts == 0)):
        donor = int(np.argmax(counts))
        if counts[donor] < 2:
            raise ConfigError(f"{len(variants)} voice variants cannot fill the splits "
                              f"{config.split_fractions}", key="n_variants")
        counts[donor] -= 1
        counts[s] += 1
    variant_split = np.repeat(np.arange(3), counts)[rng.permutation(len(variants))]
    n_words, shape_rest = len(config.words), (len(accents), len(config.rates_wpm),
                                              len(config.pitches))
    if config.n_clips is None:
        keyword_share = 1.0 - config.unknown_fraction - config.silence_fraction
        per_split = np.round(counts * n_words * int(np.prod(shape_rest))
                             / keyword_share).astype(np.int64)
    else:
        per_split = _apportion(config.n_clips, counts)
    unknown_label, silence_label = n_words, n_words + (config.unknown_fraction > 0)
    rows, offset = [], 0
    for s in range(3):
        members = np.flatnonzero(variant_split == s)
        n_kw, n_unknown, n_silence = _class_counts(int(per_split[s]), config)
        labels = (np.arange(n_kw) + offset) % n_words
        offset += n_kw
        cells = []
        shape = (members.size, *shape_rest)
        size = int(np.prod(shape))

        def combos(k):
            if k == 0:
                return (np.zeros(0, np.int64),) * 4
            pick = np.concatenate([rng.permutation(size) for _ in range(k // size)]
                                  + [rng.choice(size, k % size, replace=False)])
            v, a, r, p = np.unravel_index(pick.astype(np.int64), shape)
            return members[v], a, r, p

        for w in range(n_words):
            k = int(np.sum(labels == w))
            v, a, r, p = combos(k)
            cells.append(np.column_stack([np.full(k, w), v, a, r, p, np.full(k, s),
                                          np.full(k, w)]))
        if n_unknown:
            v, a, r, p = combos(n_unknown)
            text = n_words + rng.integers(len(config.unknown_words), size=n_unknown)
            cells.append(np.column_stack([np.full(n_unknown, unknown_label), v, a, r, p,
                                          np.full(n_unknown, s), text]))
        if n_silence:
            v, a, r, p = combos(n_silence)
            cells.append(np.column_stack([np.full(n_silence, silence_label), v, a, r, p,
                                          np.full(n_silence, s), np.full(n_silence, -1)]))
        block = np.concatenate(cells) if cells else np.zeros((0, 7), np.int64)
        rows.append(block[rng.permutation(len(block))])
    bank = []
    for s in range(3):
        members = np.flatnonzero(variant_split == s)
        if members.size == 0:
            bank.append(())
            continue
        bank.append(tuple((FILLER_WORDS[rng.integers(len(FILLER_WORDS))],
                           int(members[rng.integers(members.size)]),
                           int(rng.integers(len(accents))),
                           int(rng.integers(len(config.rates_wpm))),
                           int(rng.integers(len(config.pitches))))
                          for _ in range(_BANK_SIZE)))
    return _Plan(variants, accents, variant_split, np.concatenate(rows).astype(np.int64),
                 tuple(bank))


# ------------------------------------------------------------------------ rendering the clips

@functools.cache
def _resampling_filter(up: int, down: int) -> np.ndarray:
    """resample_poly's own default filter (Kaiser, beta 5), designed once per ratio."""
    from scipy.signal import firwin
    rate = max(up, down)
    return firwin(2 * 10 * rate + 1, 1.0 / rate, window=("kaiser", 5.0))


@functools.lru_cache(maxsize=512)
def _word(word: str, accent: str, variant: str, rate_wpm: int, pitch: int,
          sample_rate_Hz: int, level_dbfs: float) -> np.ndarray:
    """One word: synthesized, trimmed, resampled, scaled to `level_dbfs` RMS (read-only)."""
    from scipy.signal import resample_poly

    from neuromem.data.synth import synthesize
    wave, fs = synthesize(word, accent, variant, rate_wpm, pitch)
    x = wave.astype(np.float64)
    span = active_part(x)
    margin = int(round(_TRIM_MARGIN_S * fs))
    x = x[max(span.start - margin, 0):span.stop + margin]
    g = math.gcd(sample_rate_Hz, fs)
    up, down = sample_rate_Hz // g, fs // g
    x = resample_poly(x, up, down, window=_resampling_filter(up, down))
    x *= 10 ** (level_dbfs / 20) / math.sqrt(float(np.mean(x ** 2)))
    x.flags.writeable = False
    return x


def _render_chunk(config: CorpusConfig, variants, accents, bank, first: int, clips: np.ndarray):
    """Render clips ``first, first + 1, ...`` (rows of the plan): int16 audio and records."""
    from scipy.signal import fftconvolve

    fs = config.sample_rate_Hz
    n = int(round(config.duration_s * fs))
    texts = config.words + config.unknown_words
    audio = np.zeros((len(clips), n), np.int16)
    records = np.zeros((len(clips), _N_RECORDS))
    for j, (label, v, a, r, p, s, text) in enumerate(clips):
        aug, noise_rng, extra = (np.random.default_rng(np.random.SeedSequence(
            config.seed, spawn_key=(1, first + j, stream))) for stream in (0, 1, 2))
        shift, gain, u = aug.uniform(-1, 1), aug.uniform(*config.gain_db), aug.uniform()
        kind = int(aug.integers(len(config.noise_kinds)))
        clean = np.zeros(n)
        start = centre = stop = 0
        if text >= 0:
            word = _word(texts[text], accents[a], variants[v], config.rates_wpm[r],
                         config.pitches[p], fs, config.level_dbfs)
            if word.size > n:
                cut = (word.size - n) // 2
                word, start, centre = word[cut:cut + n], 0, 0
            else:
                centre = (n - word.size) // 2
                start = min(max(centre + int(round(shift * config.shift_s * fs)), 0),
                            n - word.size)
            stop = start + word.size
            clean[start:stop] = word
        # training augmentation (own stream: clips, shifts and noise stay as without it)
        chosen = {name for name in config.augment if s == 0
                  and extra.uniform() < config.augment_prob}
        warp = extra.uniform(*config.vtlp_range) if "vtlp" in chosen else 1.0
        rt60 = extra.uniform(*config.rt60_s) if "reverb" in chosen else math.nan
        channel = int(extra.integers(len(CHANNELS))) if "channel" in chosen else -1
        if "reverb" in chosen and stop > start:
            room = room_response(int(min(1.2 * rt60, config.duration_s) * fs), rt60, extra, fs)
            wet = fftconvolve(clean, room)[:n]
            clean = wet * math.sqrt(np.mean(clean[start:stop] ** 2)
                                    / max(np.mean(wet[start:stop] ** 2), 1e-30))
        babble = ()
        if config.noise_kinds[kind] == "babble" and (config.snr_db is not None or text < 0):
            babble = [_word(w, accents[ba], variants[bv], config.rates_wpm[br],
                            config.pitches[bp], fs, config.level_dbfs)
                      for w, bv, ba, br, bp in bank[s]]
        y, snr, kind_id = clean, math.nan, -1
        if text < 0:                        # _silence_: background alone, at a drawn level
            noise = make_noise(config.noise_kinds[kind], n, noise_rng, fs, babble)
            y = noise * 10 ** ((config.silence_dbfs[0] + u * (config.silence_dbfs[1]
                                                             - config.silence_dbfs[0])) / 20)
            kind_id = kind
        elif config.snr_db is not None:
            lo, hi = config.snr_db if isinstance(config.snr_db, tuple) else (config.snr_db,) * 2
            snr, kind_id = lo + u * (hi - lo), kind
            noise = make_noise(config.noise_kinds[kind], n, noise_rng, fs, babble)
            y = add_noise(clean, noise, snr, noise_rng, active=slice(start, stop))
        if channel >= 0:
            coloured = colour_channel(y, CHANNELS[channel], extra, fs)
            y = coloured * math.sqrt(np.mean(y ** 2) / max(np.mean(coloured ** 2), 1e-30))
        scaled = np.round(y * 10 ** (gain / 20) * 32768.0)
        over = (scaled > 32767) | (scaled < -32768)
        audio[j] = np.clip(scaled, -32768, 32767).astype(np.int16)
        records[j] = ((start - centre) / fs, gain, snr, kind_id, int(over.sum()), start,
                      stop, warp, channel, rt60)
    return first, audio, records


def _workers(requested: int | None, n_tasks: int) -> int:
    if requested is not None:
        if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
            raise ConfigError(f"expected a positive number of workers, got {requested!r}",
                              key="workers")
        return min(requested, max(n_tasks, 1))
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(cores, n_tasks))


def _generate(config: CorpusConfig, progress: bool, workers: int | None):
    """(plan, int16 audio, records) of `config`."""
    from tqdm.auto import tqdm

    plan = _plan(config)
    n_clips = len(plan.clips)
    n = int(round(config.duration_s * config.sample_rate_Hz))
    audio = np.zeros((n_clips, n), np.int16)
    records = np.zeros((n_clips, _N_RECORDS))
    starts = list(range(0, n_clips, _CHUNK_CLIPS))
    args = (config, plan.variants, plan.accents, plan.bank)
    n_workers = _workers(workers, len(starts))

    def store(first, chunk, rec):
        audio[first:first + len(chunk)], records[first:first + len(chunk)] = chunk, rec
        bar.update(len(chunk))

    bar = tqdm(total=n_clips, desc="synth_kws", unit="clip", disable=not progress)
    try:
        if n_workers == 1:
            for i in starts:
                store(*_render_chunk(*args, i, plan.clips[i:i + _CHUNK_CLIPS]))
        else:
            context = multiprocessing.get_context("spawn")
            with cf.ProcessPoolExecutor(n_workers, mp_context=context) as pool:
                futures = [pool.submit(_render_chunk, *args, i, plan.clips[i:i + _CHUNK_CLIPS])
                           for i in starts]
                try:
                    for future in cf.as_completed(futures):
                        store(*future.result())
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise
    except cf.process.BrokenProcessPool as exc:
        raise DataError(f"a synthesis worker died: {exc}") from exc
    finally:
        bar.close()
    return plan, audio, records


def generate_corpus(config: CorpusConfig | None = None, progress: bool = True, *,
                    workers: int | None = None) -> Corpus:
    """Synthesize the corpus of `config` (no cache; see :func:`load_corpus`).

    `workers` processes (spawned, one synthesizer each; default: the cores available; 1 runs
    in this process) render chunks of clips; the result does not depend on their number.
    """
    config = CorpusConfig() if config is None else config
    plan, audio, records = _generate(config, progress, workers)
    return _corpus(config, plan.variants, plan.accents, plan.clips, audio, records)


def _corpus(config, variants, accents, clips, audio, records, path=None) -> Corpus:
    waveforms = audio.astype(np.float32)
    waveforms *= np.float32(1 / 32768)
    as_int = functools.partial(np.asarray, dtype=np.int64)
    return Corpus(waveforms=waveforms, labels=as_int(clips[:, 0]),
                  label_names=config.label_names,
                  split=np.asarray(SPLITS)[clips[:, 5]], voice=as_int(clips[:, 1]),
                  voices=tuple(variants), accent=as_int(clips[:, 2]), accents=tuple(accents),
                  rate_wpm=as_int(np.asarray(config.rates_wpm)[clips[:, 3]]),
                  pitch=as_int(np.asarray(config.pitches)[clips[:, 4]]),
                  shift_s=records[:, 0].copy(), gain_db=records[:, 1].copy(),
                  snr_db=records[:, 2].copy(), noise=as_int(records[:, 3]),
                  noise_kinds=config.noise_kinds, clipped=as_int(records[:, 4]),
                  word_span=as_int(records[:, 5:7]),
                  text=np.asarray([""] + list(config.words + config.unknown_words))[
                      clips[:, 6] + 1],
                  warp=records[:, 7].copy(), channel=as_int(records[:, 8]),
                  rt60_s=records[:, 9].copy(),
                  sample_rate_Hz=config.sample_rate_Hz, config=config, path=path)


# --------------------------------------------------------------------------------------- cache

def default_cache_dir() -> Path:
    """``$NEUROMEM_CACHE`` if set, else ``~/.cache/neuromem``."""
    env = os.environ.get("NEUROMEM_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "neuromem"


def _key(config: CorpusConfig) -> tuple[str, str]:
    from neuromem.data.synth import espeak_version
    variants, accents = _resolve_voices(config)
    described = dict(config.to_dict(), variants=list(variants), accents=list(accents),
                     espeak_ng=espeak_version(), generator=_FORMAT_VERSION)
    text = json.dumps(described, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16], text


def cache_path(config: CorpusConfig, cache_dir=None) -> Path:
    """The cache file of `config`: ``cache_dir / synth_kws-<key>.h5``."""
    folder = default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()
    return folder / f"synth_kws-{_key(config)[0]}.h5"


def _write_cache(path: Path, variants, accents, clips: np.ndarray, audio: np.ndarray,
                 records: np.ndarray, described: str) -> None:
    import h5py

    with atomic_write(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"], f.attrs["format_version"] = _FORMAT, _FORMAT_VERSION
        f.attrs["config"] = described
        rows = min(len(audio), 64) or 1
        f.create_dataset("audio", data=audio, chunks=(rows, audio.shape[1]),
                         compression="gzip", compression_opts=1, shuffle=True,
                         fletcher32=True)
        f.create_dataset("clips", data=clips, fletcher32=True, chunks=True)
        f.create_dataset("records", data=records, fletcher32=True, chunks=True)
        strings = h5py.string_dtype()
        for name, names in (("voices", variants), ("accents", accents)):
            f.create_dataset(name, data=np.asarray(names, dtype=object), dtype=strings)
        f.attrs["complete"] = True


def _read_cache(path: Path, config: CorpusConfig, described: str) -> Corpus:
    """Read a cache file; any problem raises DataError naming it."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            complete = f.attrs.get("complete")
            if f.attrs.get("format") != _FORMAT or not (isinstance(complete, np.bool_)
                                                         and complete):
                raise DataError("not a complete synth_kws cache file")
            if f.attrs.get("format_version") != _FORMAT_VERSION or f.attrs["config"] != described:
                raise DataError("written for another config or generator version")
            audio, clips, records = f["audio"][()], f["clips"][()], f["records"][()]
            variants = tuple(f["voices"].asstr()[()])
            accents = tuple(f["accents"].asstr()[()])
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None
    except Exception as exc:
        raise DataError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from exc
    n = int(round(config.duration_s * config.sample_rate_Hz))
    if (audio.dtype != np.int16 or audio.ndim != 2 or audio.shape[1] != n
            or clips.shape != (len(audio), 7) or records.shape != (len(audio), _N_RECORDS)):
        raise DataError(f"{path}: arrays of inconsistent shapes")
    return _corpus(config, variants, accents, clips, audio, records, path=path)


def load_corpus(config: CorpusConfig | None = None, cache_dir=None, progress: bool = True, *,
                workers: int | None = None) -> Corpus:
    """The corpus of `config`, from the cache if there, else generated and cached.

    Parameters
    ----------
    config : CorpusConfig, optional
        Default: ``CorpusConfig()`` (8,000 clean clips).
    cache_dir : str or path-like, optional
        Default :func:`default_cache_dir`; created if missing.
    progress : bool
        Show a tqdm progress bar while generating.
    workers : int, optional
        Processes for generating (see :func:`generate_corpus`).

    Returns
    -------
    Corpus

    Notes
    -----
    A damaged cache file (truncated, checksum error, wrong contents) is reported with a
    ``UserWarning`` and regenerated. If the cache cannot be written (read-only folder, disk
    full), a warning says so and the generated corpus is returned all the same. Generation
    spawns worker processes: a script calling this must guard its top level with
    ``if __name__ == "__main__":``.
    """
    config = CorpusConfig() if config is None else config
    path = cache_path(config, cache_dir)
    described = _key(config)[1]
    if path.exists():
        try:
            return _read_cache(path, config, described)
        except DataError as exc:
            warnings.warn(f"damaged corpus cache, regenerating: {exc}", stacklevel=2)
    plan, audio, records = _generate(config, progress, workers)
    saved = path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_cache(path, plan.variants, plan.accents, plan.clips, audio, records, described)
    except OSError as exc:
        warnings.warn(f"cannot write the corpus cache {path}: {exc}; returning the corpus "
                      "uncached", stacklevel=2)
        saved = None
    return _corpus(config, plan.variants, plan.accents, plan.clips, audio, records, path=saved)
