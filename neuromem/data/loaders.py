"""Dataset loaders: Google Speech Commands, SHD/SSC spike files, a folder of WAV files.

Each loader scans its files once and exposes ``samples``, a small uniform structure
(:class:`AudioDataset` for audio, :class:`SpikeDataset` for spike files) holding labels
(int64), label names, the split of every sample (``"train"``, ``"validation"``, ``"test"``)
and speaker ids; ``split(name)`` selects one split. Audio is read lazily, file by file.

Missing, unreadable or malformed files raise :class:`~neuromem.exceptions.DataError` naming
the file. :data:`DATASET_KINDS` maps a dataset card's ``kind`` to its loader and parameter
class; :func:`open_dataset` opens a user's data folder with a card's parameters.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from pathlib import Path

import numpy as np

from neuromem.data.audio import FrontEnd, extract, preprocess, read_wav
from neuromem.exceptions import ConfigError, DataError
from neuromem.schema import at_least, build, closest, param, positive

__all__ = ["SPLITS", "KEYWORDS", "SILENCE", "UNKNOWN", "which_set", "AudioDataset",
           "SpikeDataset", "SpeechCommands", "SHD", "FolderDataset", "SpeechCommandsParams",
           "SHDParams", "FolderParams", "DATASET_KINDS", "open_dataset"]

#: Split names used by every loader.
SPLITS = ("train", "validation", "test")
#: The ten Speech Commands keywords of the 10- and 12-class tasks (Warden 2018).
KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SILENCE = "_silence_"
UNKNOWN = "_unknown_"
NOISE_FOLDER = "_background_noise_"
#: Speech Commands clips (and silence slices) last one second.
CLIP_S = 1.0
MAX_NUM_WAVS_PER_CLASS = 2 ** 27 - 1  # ~134M, from the Speech Commands README


def which_set(filename, validation_pct: float = 10.0, testing_pct: float = 10.0) -> str:
    """The Speech Commands split of a file by the SHA1 of its speaker part (Warden 2018).

    Returns ``"training"``, ``"validation"`` or ``"testing"`` (the reference function's
    names; loaders map them to ``"train"``, ``"validation"``, ``"test"``).

    Notes
    -----
    As in the dataset's README: the base name up to ``_nohash_`` (the speaker id) is hashed,

    .. math:: p = (\\mathrm{SHA1}(\\mathrm{name}) \\bmod (2^{27}))
              \\cdot \\frac{100}{2^{27} - 1}

    and the file goes to validation if :math:`p <` ``validation_pct``, to testing if
    :math:`p <` ``validation_pct + testing_pct``, else to training. All clips of a speaker
    land in the same split, and adding files never moves existing ones.
    """
    base_name = Path(str(filename)).name
    hash_name = re.sub(r"_nohash_.*$", "", base_name)
    hashed = hashlib.sha1(hash_name.encode("utf-8")).hexdigest()
    percentage = ((int(hashed, 16) % (MAX_NUM_WAVS_PER_CLASS + 1))
                  * (100.0 / MAX_NUM_WAVS_PER_CLASS))
    if percentage < validation_pct:
        return "validation"
    if percentage < testing_pct + validation_pct:
        return "testing"
    return "training"


_REFERENCE_SPLIT = {"training": "train", "validation": "validation", "testing": "test"}


# --------------------------------------------------------------------------- structures

@dataclasses.dataclass(frozen=True, eq=False)
class AudioDataset:
    """Audio samples as file references: sample ``i`` is ``paths[i][starts[i]:stops[i]]``.

    Attributes
    ----------
    paths : tuple of Path
    starts, stops : ndarray of int64
        Sample span read from the file, in the file's own samples; ``stops = -1`` reads to
        the end (whole clips). Silence slices of background noise use explicit spans.
    labels : ndarray of int64
    label_names : tuple of str
    splits, speakers, words : ndarray of str
        Split name, speaker id (``""`` if unknown) and source word/folder of each sample.
    """

    paths: tuple
    starts: np.ndarray
    stops: np.ndarray
    labels: np.ndarray
    label_names: tuple
    splits: np.ndarray
    speakers: np.ndarray
    words: np.ndarray

    @classmethod
    def from_files(cls, paths, labels, label_names, splits, starts=None, stops=None,
                   words=None) -> "AudioDataset":
        """Build from per-sample lists; speakers come from the file names (``_nohash_``),
        words default to the parent folder names, spans to whole files."""
        paths = tuple(Path(f) for f in paths)
        n = len(paths)
        return cls(paths,
                   np.zeros(n, np.int64) if starts is None else np.asarray(starts, np.int64),
                   np.full(n, -1, np.int64) if stops is None else np.asarray(stops, np.int64),
                   np.asarray(labels, dtype=np.int64).reshape(n), tuple(label_names),
                   np.asarray(list(splits), dtype=str).reshape(n),
                   np.asarray([_speaker(f) for f in paths], dtype=str).reshape(n),
                   np.asarray([f.parent.name for f in paths] if words is None else list(words),
                              dtype=str).reshape(n))

    def __len__(self) -> int:
        return len(self.paths)

    def concat(self, other: "AudioDataset") -> "AudioDataset":
        """This dataset's samples followed by ``other``'s (same label names)."""
        return AudioDataset(self.paths + other.paths, *(
            np.concatenate([getattr(self, f), getattr(other, f)]) for f in
            ("starts", "stops", "labels")), self.label_names, *(
            np.concatenate([getattr(self, f), getattr(other, f)]) for f in
            ("splits", "speakers", "words")))

    def take(self, indices) -> "AudioDataset":
        """The samples at ``indices`` (same label names)."""
        idx = np.asarray(indices, dtype=np.int64).ravel()
        return AudioDataset(tuple(self.paths[i] for i in idx), self.starts[idx],
                            self.stops[idx], self.labels[idx], self.label_names,
                            self.splits[idx], self.speakers[idx], self.words[idx])

    def split(self, name: str) -> "AudioDataset":
        """The samples of one split (``train``, ``validation`` or ``test``)."""
        return self.take(np.flatnonzero(self.splits == _split_name(name)))

    def class_counts(self) -> np.ndarray:
        """Samples per label, ``(len(label_names),)`` int64."""
        return np.bincount(self.labels, minlength=len(self.label_names)).astype(np.int64)

    def subsample(self, max_per_class: int, seed=0) -> "AudioDataset":
        """At most ``max_per_class`` samples of each label, drawn without replacement."""
        rng = np.random.default_rng(seed)
        keep = []
        for label in range(len(self.label_names)):
            idx = np.flatnonzero(self.labels == label)
            if idx.size > max_per_class:
                idx = np.sort(rng.choice(idx, size=max_per_class, replace=False))
            keep.append(idx)
        return self.take(np.sort(np.concatenate(keep)) if keep else [])

    def read(self, i: int, _cache: dict | None = None) -> tuple[np.ndarray, int]:
        """The waveform of sample ``i`` (float32 in [-1, 1]) and its sample rate."""
        path = self.paths[i]
        if _cache is not None and path in _cache:
            x, sr = _cache[path]
        else:
            x, sr = read_wav(path)
            if _cache is not None and self.stops[i] >= 0:
                _cache[path] = (x, sr)  # noise files are sliced many times
        stop = None if self.stops[i] < 0 else int(self.stops[i])
        return x[int(self.starts[i]):stop], sr

    def waveforms(self, frontend: FrontEnd, progress: bool = False) -> np.ndarray:
        """All samples preprocessed (:func:`~neuromem.data.audio.preprocess`):
        ``(n, frontend.n_window)`` float32. Silence slices are not trimmed (trimming noise
        would keep only its loudest burst)."""
        out = np.zeros((len(self), frontend.n_window), dtype=np.float32)
        untrimmed = dataclasses.replace(frontend, trim_db=math.inf)
        cache: dict = {}
        for i in _progress(range(len(self)), progress, "audio"):
            x, sr = self.read(i, cache)
            out[i] = preprocess(x, sr, untrimmed if self.words[i] == SILENCE else frontend)
        return out

    def features(self, frontend: FrontEnd, progress: bool = False) -> np.ndarray:
        """Log-mel features of all samples: ``(n, frontend.n_frames, n_mels)`` float32, as
        :func:`~neuromem.data.audio.extract` (silence untrimmed; not normalised: fit
        :func:`~neuromem.data.audio.fit_normalizer` on the training split)."""
        out = np.zeros((len(self), frontend.n_frames, frontend.n_mels), dtype=np.float32)
        untrimmed = dataclasses.replace(frontend, trim_db=math.inf)
        cache: dict = {}
        for i in _progress(range(len(self)), progress, "log-mel"):
            x, sr = self.read(i, cache)
            out[i] = extract(x, sr, untrimmed if self.words[i] == SILENCE else frontend)
        return out


@dataclasses.dataclass(frozen=True, eq=False)
class SpikeDataset:
    """Spike samples as one event list (the :class:`neuromem.events.SpikeInput` layout).

    Sample ``i``'s events are ``steps[offsets[i]:offsets[i + 1]]`` and ``channels[...]``,
    sorted by step then channel, each (step, channel) pair at most once, all in
    ``[0, n_steps)`` x ``[0, n_channels)``.
    """

    steps: np.ndarray
    channels: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    label_names: tuple
    splits: np.ndarray
    speakers: np.ndarray
    n_channels: int
    n_steps: int
    dt_s: float

    def __len__(self) -> int:
        return self.offsets.shape[0] - 1

    def events(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(steps, channels) of sample ``i``."""
        a, b = self.offsets[i], self.offsets[i + 1]
        return self.steps[a:b], self.channels[a:b]

    def take(self, indices) -> "SpikeDataset":
        """The samples at ``indices``."""
        idx = np.asarray(indices, dtype=np.int64).ravel()
        lengths = np.diff(self.offsets)[idx]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        pos = np.repeat(self.offsets[idx] - offsets[:-1], lengths) + np.arange(offsets[-1])
        return dataclasses.replace(self, steps=self.steps[pos], channels=self.channels[pos],
                                   offsets=offsets, labels=self.labels[idx],
                                   splits=self.splits[idx], speakers=self.speakers[idx])

    def concat(self, other: "SpikeDataset") -> "SpikeDataset":
        """This dataset's samples followed by ``other``'s (same channels and time grid)."""
        return dataclasses.replace(
            self, steps=np.concatenate([self.steps, other.steps]),
            channels=np.concatenate([self.channels, other.channels]),
            offsets=np.concatenate([self.offsets, other.offsets[1:] + self.offsets[-1]]),
            labels=np.concatenate([self.labels, other.labels]),
            label_names=max(self.label_names, other.label_names, key=len),
            splits=np.concatenate([self.splits, other.splits]),
            speakers=np.concatenate([self.speakers, other.speakers]))

    def split(self, name: str) -> "SpikeDataset":
        """The samples of one split."""
        return self.take(np.flatnonzero(self.splits == _split_name(name)))

    def spike_input(self):
        """All samples as a :class:`neuromem.events.SpikeInput`."""
        from neuromem.events import SpikeInput
        return SpikeInput(self.steps.copy(), self.channels.copy(), self.offsets.copy())


def _split_name(name: str) -> str:
    if name not in SPLITS:
        raise ConfigError(f"expected a split in {', '.join(SPLITS)}, got {name!r}"
                          f"{closest(name, SPLITS)}", key="split")
    return name


def _progress(iterable, progress, desc):
    if not progress:
        return iterable
    from tqdm.auto import tqdm
    return tqdm(iterable, desc=desc, leave=False)


def _wav_files(folder: Path) -> list[Path]:
    """The .wav files of a class folder; other visible files and empty folders are errors."""
    files = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_file() and path.suffix.lower() == ".wav":
            files.append(path)
        else:
            raise DataError(f"{path}: expected only .wav files in {folder}")
    if not files:
        raise DataError(f"{folder}: empty class folder (no .wav files)")
    return files


def _speaker(path: Path) -> str:
    """Speech Commands speaker id: the file name before ``_nohash_`` ("" if absent)."""
    name = path.name
    return name.split("_nohash_")[0] if "_nohash_" in name else ""


# --------------------------------------------------------------------------- parameters

def _percent(value) -> str | None:
    return None if 0 <= value <= 100 else "a percentage in [0, 100]"


def _below_one(value) -> str | None:
    return None if 0 <= value < 1 else "a fraction in [0, 1)"


@dataclasses.dataclass(frozen=True)
class SpeechCommandsParams:
    """Options of :class:`SpeechCommands` (the scalar keys of its card's [parameters])."""

    task: str = param("12class", kind=str, choices=("12class", "10class"),
                      doc="10 keywords + _silence_ + _unknown_, or the 10 keywords alone")
    validation_pct: float = param(10.0, unit="%", check=_percent,
                                  doc="hash split when the official lists are absent")
    testing_pct: float = param(10.0, unit="%", check=_percent,
                               doc="hash split when the official lists are absent")
    noise_seed: int = param(0, kind=int, doc="seed of the silence slices' files and offsets")

    def check(self) -> None:
        if self.validation_pct + self.testing_pct >= 100:
            raise ConfigError("validation_pct + testing_pct must be < 100", key="testing_pct")


@dataclasses.dataclass(frozen=True)
class FolderParams:
    """Options of :class:`FolderDataset`."""

    test_fraction: float = param(0.2, check=_below_one, doc="held-out test share")
    validation_fraction: float = param(0.1, check=_below_one, doc="validation share")
    split_seed: int = param(0, kind=int, doc="seed of the stratified split")
    split: str = param("auto", kind=str, choices=("auto", "test", "train"),
                       doc="auto: stratified train/validation/test split; test or train: "
                       "every file belongs to that split (a folder as a test set)")

    def check(self) -> None:
        if self.split != "auto":
            return
        if self.test_fraction + self.validation_fraction >= 1:
            raise ConfigError("test_fraction + validation_fraction must be < 1",
                              key="validation_fraction")


@dataclasses.dataclass(frozen=True)
class SHDParams:
    """Options of :class:`SHD` (quantisation of spike times onto the engine's grid)."""

    dt_s: float = param(0.001, unit="s", check=positive, doc="engine time step")
    t_max_s: float = param(1.4, unit="s", check=positive,
                           doc="spikes at or after t_max_s are dropped")
    n_channels: int = param(700, kind=int, check=at_least(1), doc="units in the file")
    pool_channels: int = param(1, kind=int, check=at_least(1),
                               doc="neighbouring units merged into one input channel")


# --------------------------------------------------------------------------- Speech Commands

class SpeechCommands:
    """Google Speech Commands (v1 or v2) from its extracted folder.

    Layout: ``ROOT/<word>/<speaker>_nohash_<n>.wav``, ``ROOT/validation_list.txt``,
    ``ROOT/testing_list.txt`` (paths ``word/file.wav``, one a line) and
    ``ROOT/_background_noise_/*.wav``.

    Splits: files named in the validation or testing list go there, all others to train
    (the official split). Without both lists, :func:`which_set` decides from the speaker's
    SHA1 with ``validation_pct`` / ``testing_pct``; one list without the other is an error.

    Tasks: ``12class`` has labels ``_silence_`` (0), ``_unknown_`` (1, every non-keyword
    word with all its clips) and the ten :data:`KEYWORDS` (2..11); ``10class`` keeps only
    the keyword clips, labelled 0..9.

    Silence: each split gets as many 1 s slices of background noise as its average keyword
    class has clips (mean over the keywords present in the dataset, rounded half up). A
    slice takes a noise file uniformly at random and a uniform start inside that split's
    share of the file: train reads the first ``100 - validation_pct - testing_pct`` percent
    of every noise file, validation the next ``validation_pct``, test the last
    ``testing_pct``, so silence slices never overlap across splits. (A share shorter than
    1 s gives a shorter slice, zero-padded by the front end.) Seeded by ``noise_seed``.
    """

    def __init__(self, root, task: str = "12class", validation_pct: float = 10.0,
                 testing_pct: float = 10.0, noise_seed: int = 0):
        self.params = build(SpeechCommandsParams, {
            "task": task, "validation_pct": validation_pct, "testing_pct": testing_pct,
            "noise_seed": noise_seed})
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise DataError(f"{self.root}: Speech Commands folder not found")
        word_dirs = [d for d in sorted(self.root.iterdir())
                     if d.is_dir() and not d.name.startswith((".", "_"))]
        if not word_dirs:
            raise DataError(f"{self.root}: no word folders (expected ROOT/<word>/*.wav)")
        files = [f for d in word_dirs for f in _wav_files(d)]
        rel = [f"{f.parent.name}/{f.name}" for f in files]
        splits = self._splits(rel)

        p = self.params
        if p.task == "12class":
            self.label_names = (SILENCE, UNKNOWN) + KEYWORDS
            index = {w: 2 + i for i, w in enumerate(KEYWORDS)}
            labels = [index.get(f.parent.name, 1) for f in files]
            keep = list(range(len(files)))
        else:
            self.label_names = KEYWORDS
            index = {w: i for i, w in enumerate(KEYWORDS)}
            keep = [i for i, f in enumerate(files) if f.parent.name in index]
            labels = [index[files[i].parent.name] for i in keep]
        samples = AudioDataset.from_files([files[i] for i in keep], labels, self.label_names,
                                          [splits[i] for i in keep])
        self.samples = self._with_silence(samples) if p.task == "12class" else samples

    def split(self, name: str) -> AudioDataset:
        """The samples of one split."""
        return self.samples.split(name)

    def _read_list(self, name: str, known: set[str]) -> list[str]:
        path = self.root / name
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise DataError(f"{path}: cannot read the split list ({err})") from None
        entries = []
        for number, line in enumerate(lines, start=1):
            entry = line.strip().replace("\\", "/")
            if not entry:
                continue
            if entry not in known:
                raise DataError(f"{path}, line {number}: lists {entry!r}, which is not a .wav "
                                f"file under {self.root}")
            entries.append(entry)
        return entries

    def _splits(self, rel: list[str]) -> list[str]:
        lists = [self.root / "validation_list.txt", self.root / "testing_list.txt"]
        present = [p.is_file() for p in lists]
        if not any(present):
            p = self.params
            return [_REFERENCE_SPLIT[which_set(r, p.validation_pct, p.testing_pct)]
                    for r in rel]
        if not all(present):
            have, miss = (lists[0], lists[1]) if present[0] else (lists[1], lists[0])
            raise DataError(f"{miss}: missing, but {have.name} is present (give both "
                            "official lists, or neither to split by speaker hash)")
        known = set(rel)
        validation = set(self._read_list(lists[0].name, known))
        testing = set(self._read_list(lists[1].name, known))
        both = sorted(validation & testing)
        if both:
            raise DataError(f"{lists[1]}: {both[0]!r} is also in {lists[0].name}")
        return ["validation" if r in validation else "test" if r in testing else "train"
                for r in rel]

    def _noise_files(self) -> list[Path]:
        folder = self.root / NOISE_FOLDER
        if not folder.is_dir():
            raise DataError(f"{folder}: background noise folder not found (the 12-class "
                            "task slices it into _silence_ samples)")
        files = [f for f in sorted(folder.glob("*.wav")) if not f.name.startswith(".")]
        if not files:
            raise DataError(f"{folder}: no .wav noise files")
        return files

    def background_noise(self) -> list[tuple[Path, np.ndarray, int]]:
        """The noise recordings of ``_background_noise_`` as (path, samples, sample rate),
        e.g. for :func:`~neuromem.data.audio.mix_at_snr` augmentation."""
        return [(f, *read_wav(f)) for f in self._noise_files()]

    def _with_silence(self, samples: AudioDataset) -> AudioDataset:
        p = self.params
        noise = [(f, x.shape[0], sr) for f, x, sr in self.background_noise()]
        rng = np.random.default_rng(p.noise_seed)
        bounds = np.cumsum([0.0, 100.0 - p.validation_pct - p.testing_pct, p.validation_pct,
                            p.testing_pct]) / 100.0
        keyword_labels = np.arange(2, 12)
        present = [k for k in keyword_labels if np.any(samples.labels == k)]
        rows = []
        for s, split in enumerate(SPLITS):
            counts = [np.count_nonzero((samples.labels == k) & (samples.splits == split))
                      for k in present]
            n_silence = int(math.floor(np.mean(counts) + 0.5)) if counts else 0
            for _ in range(n_silence):
                path, length, sr = noise[int(rng.integers(len(noise)))]
                lo = int(math.floor(bounds[s] * length))
                hi = int(math.floor(bounds[s + 1] * length))
                n = int(round(CLIP_S * sr))
                start = lo + int(rng.integers(0, max(hi - lo - n, 0) + 1))
                rows.append((path, start, min(start + n, hi), split))
        paths, starts, stops, splits = zip(*rows) if rows else ((),) * 4
        return samples.concat(AudioDataset.from_files(
            paths, [0] * len(rows), samples.label_names, splits, starts, stops,
            [SILENCE] * len(rows)))


# --------------------------------------------------------------------------- folder of WAVs

class FolderDataset:
    """Your own recordings: ``ROOT/<label>/*.wav``, one folder per class.

    Labels are the folder names in sorted order (0, 1, ...). Each class is split on its
    own (stratified): its files, sorted by name, are permuted by one
    ``default_rng(split_seed)`` (classes in label order) and the first
    ``round(n * test_fraction)`` go to test, the next ``round(n * validation_fraction)`` to
    validation, the rest to train. Speakers are the name before ``_nohash_`` if the files
    follow the Speech Commands naming, else ``""``. Visible files other than .wav inside a
    class folder, and empty class folders, are errors; files directly in ROOT are ignored.
    With ``split = "test"`` (or ``"train"``) every file belongs to that split: a folder of
    someone else's recordings as a test set.
    """

    def __init__(self, root, test_fraction: float = 0.2, validation_fraction: float = 0.1,
                 split_seed: int = 0, split: str = "auto"):
        self.params = build(FolderParams, {"test_fraction": test_fraction,
                                           "validation_fraction": validation_fraction,
                                           "split_seed": split_seed, "split": split})
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise DataError(f"{self.root}: dataset folder not found")
        class_dirs = [d for d in sorted(self.root.iterdir())
                      if d.is_dir() and not d.name.startswith(".")]
        if not class_dirs:
            raise DataError(f"{self.root}: no class folders (expected ROOT/<label>/*.wav)")
        self.label_names = tuple(d.name for d in class_dirs)
        rng = np.random.default_rng(self.params.split_seed)
        paths, labels, splits = [], [], []
        for label, folder in enumerate(class_dirs):
            files = _wav_files(folder)
            n = len(files)
            n_test = int(round(n * self.params.test_fraction))
            n_val = min(int(round(n * self.params.validation_fraction)), n - n_test)
            split = np.array(["train"] * n, dtype=object)
            order = rng.permutation(n)
            if self.params.split == "auto":
                split[order[:n_test]] = "test"
                split[order[n_test:n_test + n_val]] = "validation"
            else:
                split[:] = self.params.split
            paths.extend(files)
            labels.extend([label] * n)
            splits.extend(split.tolist())
        self.samples = AudioDataset.from_files(paths, labels, self.label_names, splits)

    def split(self, name: str) -> AudioDataset:
        """The samples of one split."""
        return self.samples.split(name)


# --------------------------------------------------------------------------- SHD / SSC

_SHD_SPLITS = {"train": "train", "valid": "validation", "test": "test"}


class SHD:
    """Spiking Heidelberg Digits / Spiking Speech Commands HDF5 files (Cramer et al. 2020).

    ``path`` is one file (``shd_train.h5``; its split is read from ``train`` / ``valid`` /
    ``test`` in the name, ``train`` if none) or a folder holding ``*_train.h5``,
    ``*_test.h5`` and optionally ``*_valid.h5`` of one dataset (``shd_`` or ``ssc_``).

    Layout read: ``spikes/times`` (variable-length float, seconds), ``spikes/units``
    (variable-length int, 0..699), ``labels`` (int), optionally ``extra/speaker`` (int,
    else -1) and ``extra/keys`` (label names, else the label numbers).

    Notes
    -----
    A spike at time :math:`t` goes to step :math:`\\lfloor t / \\Delta t + 10^{-9} \\rfloor`
    (the tiny offset absorbs round-off such as 0.003 / 0.001 = 2.9999999999999996) and
    channel ``unit // pool_channels``. Spikes at steps >= ``n_steps =
    ceil(t_max_s / dt_s - 1e-9)`` are dropped, and repeated (step, channel) pairs are kept
    once: an input row is driven or not in a step.
    """

    def __init__(self, path, dt_s: float = 0.001, t_max_s: float = 1.4,
                 n_channels: int = 700, pool_channels: int = 1):
        self.params = build(SHDParams, {"dt_s": dt_s, "t_max_s": t_max_s,
                                        "n_channels": n_channels,
                                        "pool_channels": pool_channels})
        path = Path(path).expanduser()
        if path.is_dir():
            files = []
            for token, split in _SHD_SPLITS.items():
                found = sorted(path.glob(f"*_{token}.h5"))
                if len(found) > 1:
                    raise DataError(f"{path}: several *_{token}.h5 files "
                                    f"({', '.join(f.name for f in found)}); point at one file")
                files += [(f, split) for f in found]
            if not files:
                raise DataError(f"{path}: no *_train.h5 / *_test.h5 files (gunzip the "
                                "downloaded .h5.gz files first)")
        elif path.is_file():
            token = next((t for t in _SHD_SPLITS if t in path.stem.lower()), "train")
            files = [(path, _SHD_SPLITS[token])]
        else:
            raise DataError(f"{path}: no such file or folder")
        self.path = path
        parts = [self._read(f, split) for f, split in files]
        self.samples = parts[0]
        for part in parts[1:]:
            self.samples = self.samples.concat(part)
        self.label_names = self.samples.label_names

    @property
    def n_steps(self) -> int:
        """Steps per sample, ``ceil(t_max_s / dt_s)``."""
        p = self.params
        return max(int(math.ceil(p.t_max_s / p.dt_s - 1e-9)), 1)

    def split(self, name: str) -> SpikeDataset:
        """The samples of one split."""
        return self.samples.split(name)

    def _read(self, path: Path, split: str):
        import h5py

        p = self.params
        try:
            fh = h5py.File(path, "r")
        except OSError as err:
            raise DataError(f"{path}: not a readable HDF5 file ({err})") from None
        with fh:
            for key in ("spikes/times", "spikes/units", "labels"):
                if key not in fh or not isinstance(fh[key], h5py.Dataset):
                    raise DataError(f"{path}: missing dataset '{key}' (expected the SHD/SSC "
                                    "layout: spikes/times, spikes/units, labels, extra/...)")
            for key in ("spikes/times", "spikes/units"):
                ds = fh[key]
                if ds.ndim != 1 or h5py.check_vlen_dtype(ds.dtype) is None:
                    raise DataError(f"{path}: '{key}' is not a 1-D variable-length dataset "
                                    f"(dtype {ds.dtype}, shape {ds.shape})")
            times, units = fh["spikes/times"][:], fh["spikes/units"][:]
            labels = np.asarray(fh["labels"][:])
            n = labels.shape[0]
            speakers = (np.asarray(fh["extra/speaker"][:]).astype(np.int64)
                        if "extra/speaker" in fh else np.full(n, -1, np.int64))
            keys = ([k.decode() if isinstance(k, bytes) else str(k)
                     for k in fh["extra/keys"][:]] if "extra/keys" in fh else None)
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"{path}: 'labels' must be a 1-D integer dataset")
        if not times.shape[0] == units.shape[0] == n == speakers.shape[0]:
            raise DataError(f"{path}: spikes/times, spikes/units, labels and extra/speaker "
                            f"have {times.shape[0]}, {units.shape[0]}, {n} and "
                            f"{speakers.shape[0]} entries")
        labels = labels.astype(np.int64)
        if n and labels.min() < 0:
            raise DataError(f"{path}: negative label {labels.min()}")
        n_labels = int(labels.max()) + 1 if n else 0
        if keys is not None and len(keys) < n_labels:
            raise DataError(f"{path}: extra/keys names {len(keys)} labels but labels go up "
                            f"to {n_labels - 1}")
        names = tuple(keys) if keys is not None else tuple(str(i) for i in range(n_labels))
        n_out = -(-p.n_channels // p.pool_channels)
        steps, chans, offsets = [], [], [0]
        for i in range(n):
            t = np.asarray(times[i], dtype=np.float64)
            u = np.asarray(units[i])
            if t.shape != u.shape:
                raise DataError(f"{path}: sample {i} has {t.size} spike times but "
                                f"{u.size} units")
            if not np.all(np.isfinite(t)) or (t.size and t.min() < 0):
                raise DataError(f"{path}: sample {i} has negative or non-finite spike times")
            u = u.astype(np.int64)
            if u.size and (u.min() < 0 or u.max() >= p.n_channels):
                raise DataError(f"{path}: sample {i} has units outside 0..{p.n_channels - 1}")
            step = np.floor(t / p.dt_s + 1e-9).astype(np.int64)
            ok = step < self.n_steps
            key = np.unique(step[ok] * n_out + u[ok] // p.pool_channels)
            steps.append(key // n_out)
            chans.append(key % n_out)
            offsets.append(offsets[-1] + key.size)
        empty = np.zeros(0, np.int64)
        return SpikeDataset(np.concatenate(steps) if steps else empty,
                            np.concatenate(chans) if chans else empty,
                            np.asarray(offsets, dtype=np.int64), labels, names,
                            np.full(n, split), speakers, n_out, self.n_steps, p.dt_s)


# --------------------------------------------------------------------------- registry

#: Dataset kinds (the ``kind`` of a dataset card): loader class, parameter class (the scalar
#: keys of the card's ``[parameters]``) and whether it is audio, i.e. also takes a
#: ``[parameters.front_end]`` (:class:`~neuromem.data.audio.FrontEnd`) and a
#: ``[parameters.encoder]`` (:func:`~neuromem.data.encoders.encoder_from_mapping`) table.
DATASET_KINDS = {"speech_commands": (SpeechCommands, SpeechCommandsParams, True),
                 "folder": (FolderDataset, FolderParams, True),
                 "shd": (SHD, SHDParams, False)}


def open_dataset(kind: str, data_dir, params=None):
    """Open a user's copy of a dataset of the given kind with validated parameters.

    Parameters
    ----------
    kind : str
        ``speech_commands``, ``folder`` or ``shd``.
    data_dir : path-like
        Speech Commands: the extracted folder; folder: ``ROOT`` of ``ROOT/<label>/*.wav``;
        shd: a folder with ``shd_train.h5`` / ``shd_test.h5``, or one such file.
    params : mapping or parameter dataclass, optional
        The card's scalar ``[parameters]`` (validated with :func:`neuromem.schema.build`).
    """
    if kind not in DATASET_KINDS:
        raise ConfigError(f"unknown dataset kind {kind!r}{closest(str(kind), DATASET_KINDS)}; "
                          f"known: {', '.join(DATASET_KINDS)}", key="kind")
    loader, params_cls, _ = DATASET_KINDS[kind]
    if params is None or isinstance(params, dict):
        params = build(params_cls, params or {}, section="parameters")
    return loader(data_dir, **dataclasses.asdict(params))
