"""Speech synthesis of single words with espeak-ng, through ctypes.

The ``espeakng-loader`` wheel (``pip install neuromem[audio]``) ships ``libespeak-ng`` and its
data folder; ``espeakng_loader.get_library_path()`` and ``get_data_path()`` say where they are.
:func:`synthesize` speaks one word with a voice = an English accent (a language file such as
``en-us`` or ``en-gb-scotland``, see :func:`english_accents`) plus a voice variant (a timbre
file such as ``m3``, ``f2`` or ``whisper``, see :func:`voice_variants`), at a speaking rate
(words per minute) and a pitch (espeak's 0-100 scale), and returns the waveform as float32 in
[-1, 1) at espeak's sample rate (22,050 Hz).

Determinism and process safety
------------------------------
espeak-ng keeps its state in C globals, and some of it survives from one utterance to the next
(the pitch "flutter" index, a function-static counter in ``wavegen.c``): two identical calls
into one loaded library return different samples (measured: lengths 8727, 8769, 8749, ... for
the same word). Its random generator is seeded with ``time(NULL)`` at initialisation, and the
``klatt 6`` voices (speechPlayer: ``Reed``, ``caleb``) draw noise from C ``rand()``. So every
call here starts from a freshly loaded library: it ``dlopen``\\ s a private copy of
``libespeak-ng`` (copied once per process into an anonymous in-memory file, so that no other
user of the library in the process shares or pins it), initialises it, seeds espeak's generator
(``espeak_ng_SetRandSeed``) and C ``rand()`` (``srand``: a process-wide side effect) with
fixed values, speaks, and ``dlclose``\\ s it, which resets all C state. A word therefore
depends only on its arguments: bit-identical across calls and processes (checked: 104 variants
x 8 accents x 3 words in two processes with different clocks and C ``rand()`` states). Measured
cost: ~3.5 ms per word (load and init ~0.7 ms, voice selection ~1.8 ms, synthesis ~1 ms).

Because the state is global, a process holds one synthesizer: calls are serialised by a
module-level lock, so threads may call :func:`synthesize` but never run in parallel. Run
processes for parallel synthesis (:mod:`neuromem.data.corpus` uses a pool of spawned workers,
one synthesizer each).
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import functools
import os
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np

from neuromem.exceptions import ConfigError, DataError
from neuromem.schema import closest

__all__ = ["synthesize", "english_accents", "voice_variants", "klatt_variants", "espeak_version",
           "RATE_RANGE_WPM", "PITCH_RANGE", "MAX_TEXT_CHARS"]

#: Speaking rates espeak-ng accepts, in words per minute (inclusive).
RATE_RANGE_WPM = (80, 450)
#: espeak-ng's pitch scale (inclusive); 50 is the voice's normal pitch.
PITCH_RANGE = (0, 100)
#: Longest text accepted (characters): this module speaks words, not documents.
MAX_TEXT_CHARS = 100

# espeak-ng API constants (speak_lib.h)
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE, _PITCH = 1, 3
_RAND_SEED = 1
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.c_void_p)
# Language files of the English family that are not accents (Shavian is a script).
_NOT_ACCENTS = frozenset({"en-shaw"})

_LOCK = threading.Lock()
_PRIVATE: dict = {}                     # pid -> path of this process's copy of the library


def _loader():
    try:
        import espeakng_loader
    except ImportError:
        raise DataError("speech synthesis needs espeak-ng from the espeakng-loader package: "
                        "pip install 'neuromem[audio]' (or espeakng-loader)") from None
    return espeakng_loader


@functools.cache
def _data_path() -> Path:
    try:
        path = Path(_loader().get_data_path())
    except RuntimeError as exc:
        raise DataError(f"espeakng-loader is installed without its data: {exc}") from None
    if not (path / "phontab").is_file():
        raise DataError(f"espeak-ng data folder {path} lacks 'phontab' (damaged install?)")
    return path


def _private_library() -> str:
    """This process's own copy of libespeak-ng: an anonymous in-memory file on Linux
    (``memfd_create``, gone with the process however it ends), else a temporary file removed
    at exit."""
    pid = os.getpid()
    if pid not in _PRIVATE:                 # a forked child makes its own copy
        source = Path(_loader().get_library_path())
        try:
            image = source.read_bytes()
        except OSError as exc:
            raise DataError(f"cannot read libespeak-ng at {source} (espeakng-loader install?): "
                            f"{exc}") from None
        _PRIVATE[pid] = _memory_file(image, source.name) or _temporary_file(image, source.name)
    return _PRIVATE[pid]


def _memory_file(image: bytes, name: str) -> str | None:
    if not hasattr(os, "memfd_create") or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        fd = os.memfd_create(name)
        with open(fd, "wb", closefd=False) as fh:
            fh.write(image)
    except OSError:
        return None
    return f"/proc/self/fd/{fd}"            # the descriptor stays open for the process


def _temporary_file(image: bytes, name: str) -> str:
    folder = tempfile.mkdtemp(prefix="neuromem-espeak-")
    target = Path(folder) / name
    try:
        target.write_bytes(image)
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise DataError(f"cannot copy libespeak-ng to {folder}: {exc}") from exc
    atexit.register(_remove_private, os.getpid(), folder)
    return str(target)


def _remove_private(pid: int, folder: str) -> None:
    if os.getpid() == pid:
        shutil.rmtree(folder, ignore_errors=True)


@functools.cache
def english_accents() -> tuple[str, ...]:
    """The English accents (espeak-ng language files) installed, lowercase, sorted.

    With espeak-ng 1.52: ``en`` (Great Britain), ``en-029`` (Caribbean), ``en-gb-scotland``,
    ``en-gb-x-gbclan`` (Lancaster), ``en-gb-x-gbcwmd`` (West Midlands), ``en-gb-x-rp``
    (Received Pronunciation), ``en-us``, ``en-us-nyc``. ``en-shaw`` (the Shavian alphabet) is
    a script, not an accent, and is left out.
    """
    folder = _data_path() / "lang" / "gmw"
    names = {p.name.lower() for p in folder.glob("en*") if p.is_file()}
    names = tuple(sorted(n for n in names if (n == "en" or n.startswith("en-"))
                         and n not in _NOT_ACCENTS))
    if not names:
        raise DataError(f"no English language files in {folder}")
    return names


@functools.cache
def voice_variants() -> tuple[str, ...]:
    """The voice variants installed (file names in ``espeak-ng-data/voices/!v``), sorted.

    espeak-ng 1.52 ships 104: male ``m1``-``m8``, female ``f1``-``f5``, Klatt-synthesiser
    voices (``klatt``-``klatt6``), whispers, robots and ~70 named voices (``Alex``, ``anika``,
    ``edward``...). Any variant combines with any accent.
    """
    folder = _data_path() / "voices" / "!v"
    names = tuple(sorted(p.name for p in folder.iterdir() if p.is_file()))
    if not names:
        raise DataError(f"no voice variants in {folder}")
    return names


@functools.cache
def klatt_variants() -> tuple[str, ...]:
    """The voice variants that speak through one of espeak-ng's Klatt synthesizers (their
    file sets ``klatt N``; 19 of espeak-ng 1.52's 104): a voice family of its own, with a
    different source and filter model from the default formant synthesizer."""
    folder = _data_path() / "voices" / "!v"
    found = []
    for name in voice_variants():
        text = (folder / name).read_text(encoding="utf-8", errors="replace")
        if any(line.split()[:1] == ["klatt"] for line in text.splitlines()):
            found.append(name)
    return tuple(found)


def _check_voice(accent: str, variant: str | None) -> str:
    accents = english_accents()
    if accent not in accents:
        raise ConfigError(f"unknown English accent {accent!r}{closest(accent, accents)}; "
                          f"installed: {', '.join(accents)}", key="accent")
    if variant is None:
        return accent
    variants = voice_variants()
    if variant not in variants:         # espeak would silently fall back to the default
        raise ConfigError(f"unknown voice variant {variant!r}{closest(variant, variants)}; "
                          f"{len(variants)} installed (see voice_variants())", key="variant")
    return f"{accent}+{variant}"


def _check_int(value, name: str, bounds: tuple[int, int]) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"expected an integer, got {value!r}", key=name)
    if not bounds[0] <= value <= bounds[1]:
        raise ConfigError(f"expected a value in [{bounds[0]}, {bounds[1]}], got {value}",
                          key=name)
    return int(value)


@functools.cache
def _c_library():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") if os.name == "nt" else None)
    except (OSError, TypeError):
        return None


def _seed_c_rand() -> None:
    """Seed C ``rand()``: espeak's ``klatt 6`` voices (speechPlayer) draw their noise from it."""
    libc = _c_library()
    if libc is not None and hasattr(libc, "srand"):
        libc.srand(_RAND_SEED)


def _open_library():
    lib = ctypes.CDLL(_private_library())
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                 ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    lib.espeak_Info.restype = ctypes.c_char_p
    lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
    lib.espeak_Terminate.restype = ctypes.c_int
    lib.espeak_ng_SetRandSeed.restype = None
    lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
    return lib


def _close_library(lib) -> None:
    lib.espeak_Terminate()
    import _ctypes
    _ctypes.dlclose(lib._handle)            # unload: the next call starts from fresh C state


@functools.cache
def espeak_version() -> str:
    """The espeak-ng version string (``"1.52.0"``); part of the corpus cache key."""
    with _LOCK:
        lib = _open_library()
        try:
            return lib.espeak_Info(None).decode("ascii", "replace")
        finally:
            _close_library(lib)


def synthesize(word: str, accent: str = "en-us", variant: str | None = None,
               rate_wpm: int = 175, pitch: int = 50) -> tuple[np.ndarray, int]:
    """Speak `word` with espeak-ng and return ``(waveform, sample_rate_Hz)``.

    Parameters
    ----------
    word : str
        The text, normally one word (at most :data:`MAX_TEXT_CHARS` characters).
    accent : str
        An English accent from :func:`english_accents` (``"en-us"``, ``"en-gb-x-rp"``, ...).
    variant : str, optional
        A voice variant from :func:`voice_variants` (``"m3"``, ``"f2"``, ``"whisper"``...);
        None speaks the accent's own default voice.
    rate_wpm : int, words per minute
        Speaking rate in [80, 450]; espeak's default is 175.
    pitch : int
        Base pitch on espeak's 0-100 scale (50 = the voice's normal pitch); the variant's own
        pitch settings scale it.

    Returns
    -------
    waveform : ndarray of float32, shape (n,)
        The 16-bit samples divided by 32768, including espeak's short leading and trailing
        silences.
    sample_rate_Hz : int
        espeak-ng's output rate (22050).

    Raises
    ------
    ConfigError
        For an unknown accent or variant, or a rate, pitch or text out of range.
    DataError
        If espeak-ng is not installed or fails (initialisation, voice loading, synthesis, no
        audio produced).

    Notes
    -----
    The result depends only on the arguments (see the module docstring): the library is
    loaded afresh for every call. Calls are serialised by a process-wide lock.

    Examples
    --------
    >>> x, fs = synthesize("yes", accent="en-gb-x-rp", variant="f2", rate_wpm=150)
    >>> fs, x.dtype, 0.1 < x.size / fs < 1.0
    (22050, dtype('float32'), True)
    """
    if not isinstance(word, str) or not word.strip():
        raise ConfigError(f"expected a non-empty word, got {word!r}", key="word")
    if len(word) > MAX_TEXT_CHARS or "\0" in word:
        raise ConfigError(f"expected a word of at most {MAX_TEXT_CHARS} characters without "
                          f"NUL, got {word[:40]!r}...", key="word")
    voice = _check_voice(accent, variant)
    rate_wpm = _check_int(rate_wpm, "rate_wpm", RATE_RANGE_WPM)
    pitch = _check_int(pitch, "pitch", PITCH_RANGE)
    text = word.encode("utf-8")
    data = os.fsencode(_data_path())
    chunks: list[np.ndarray] = []

    def collect(wav, n, _events):
        if n > 0 and wav:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0                                    # 0 = continue

    callback = _CALLBACK(collect)                   # referenced until the library is closed
    with _LOCK:
        lib = _open_library()
        try:
            rate_Hz = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data,
                                            _INITIALIZE_DONT_EXIT)
            if rate_Hz <= 0:
                raise DataError(f"espeak-ng failed to initialise with data {_data_path()} "
                                f"(code {rate_Hz})")
            lib.espeak_ng_SetRandSeed(_RAND_SEED)   # initialising seeded it with time(NULL)
            _seed_c_rand()
            lib.espeak_SetSynthCallback(callback)
            code = lib.espeak_SetVoiceByName(voice.encode("ascii"))
            if code != 0:
                raise DataError(f"espeak-ng cannot load voice {voice!r} (code {code})")
            for parameter, value in ((_RATE, rate_wpm), (_PITCH, pitch)):
                code = lib.espeak_SetParameter(parameter, value, 0)
                if code != 0:
                    raise DataError(f"espeak-ng refused parameter {parameter} = {value} "
                                    f"(code {code})")
            code = lib.espeak_Synth(text, len(text) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8,
                                    None, None)
            if code != 0:
                raise DataError(f"espeak-ng failed to speak {word!r} with {voice!r} "
                                f"(code {code})")
        finally:
            _close_library(lib)
    if not chunks:
        raise DataError(f"espeak-ng produced no audio for {word!r} with voice {voice!r}")
    wave = np.concatenate(chunks).astype(np.float32) / np.float32(32768.0)
    if not np.any(wave):
        raise DataError(f"espeak-ng produced only silence for {word!r} with voice {voice!r}")
    return wave, int(rate_Hz)
