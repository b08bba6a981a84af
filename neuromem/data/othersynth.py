"""Keywords from synthesizers of other families, for cross-synthesizer checks.

A keyword spotter trained on espeak-ng's formant voices must also hear voices it never heard.
This module speaks the keywords with synthesizers that work differently and writes them as a
folder dataset (``ROOT/<word>/<voice>_nohash_<n>.wav``, the layout of the ``folder`` dataset
card), so that a trained model is evaluated on them exactly as on any user's recordings::

    python -m neuromem.data.othersynth ROOT            # every installed family
    neuromem evaluate kws.h5 --dataset folder --data-dir ROOT

Families (Debian packages, none of them a Python dependency; a family whose program is absent
is skipped):

``flite`` (``apt install flite``)
    CMU Flite 2.2: ``kal``, ``kal16`` (diphone concatenation of a recorded speaker, 8 and
    16 kHz), ``awb``, ``rms``, ``slt`` (clustergen statistical parametric voices of three
    recorded speakers). Each voice speaks each word at 3 pitches (0.8, 1, 1.25 x the voice's
    mean F0) x 3 tempos (duration stretch 0.8, 1, 1.3): 45 clips per word.
``festival`` (``apt install festival festvox-kallpc16k``)
    Festival 2.5 with its ``kal_diphone`` voice (residual-excited LPC diphones), at 3
    tempos.

Nothing here is used for training: these voices are held out of every corpus.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
from pathlib import Path

from neuromem.exceptions import DataError

__all__ = ["FAMILIES", "available_families", "write_keywords"]

#: family -> (program, voices)
FAMILIES = {
    "flite": ("flite", ("kal", "kal16", "awb", "rms", "slt")),
    "festival": ("text2wave", ("kal_diphone",)),
}
_F0_MEAN_HZ = {"kal": 105.0, "kal16": 105.0, "awb": 110.0, "rms": 100.0, "slt": 170.0}
_PITCH_FACTORS = (0.8, 1.0, 1.25)
_STRETCHES = (0.8, 1.0, 1.3)
_TIMEOUT_S = 30


def available_families() -> tuple[str, ...]:
    """The families whose program is on the PATH."""
    return tuple(name for name, (program, _) in FAMILIES.items() if shutil.which(program))


def _speak(family: str, voice: str, word: str, pitch: float, stretch: float, out: Path):
    if family == "flite":
        cmd = ["flite", "-voice", voice, "--setf",
               f"int_f0_target_mean={_F0_MEAN_HZ[voice] * pitch:g}", "--setf",
               f"duration_stretch={stretch:g}", "-t", word, "-o", str(out)]
        text = None
    else:
        cmd = ["text2wave", "-eval", f"(voice_{voice})", "-eval",
               f"(Parameter.set 'Duration_Stretch {stretch:g})", "-o", str(out)]
        text = word.encode()
    try:
        done = subprocess.run(cmd, input=text, capture_output=True, timeout=_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DataError(f"{family} failed on {word!r} ({voice}): {exc}") from None
    if done.returncode != 0 or not out.is_file() or out.stat().st_size <= 44:
        raise DataError(f"{family} failed on {word!r} ({voice}): "
                        f"{done.stderr.decode(errors='replace').strip()[:200]}")


def write_keywords(root, words, families=None) -> dict:
    """Speak ``words`` with every voice of ``families`` (default: all available) into
    ``root/<word>/<family>-<voice>_nohash_<n>.wav``; returns ``{family: clips written}``.

    Raises
    ------
    DataError
        A requested family is not installed, or its program fails (the message names the
        word and voice).
    """
    have = available_families()
    families = have if families is None else tuple(families)
    for family in families:
        if family not in FAMILIES:
            raise DataError(f"unknown synthesizer family {family!r}; known: "
                            f"{', '.join(FAMILIES)}")
        if family not in have:
            raise DataError(f"{family} is not installed ({FAMILIES[family][0]} not on the "
                            "PATH; see the module docstring)")
    root = Path(root)
    written = {}
    for family in families:
        voices = FAMILIES[family][1]
        pitches = _PITCH_FACTORS if family == "flite" else (1.0,)
        n = 0
        for word in words:
            folder = root / word
            folder.mkdir(parents=True, exist_ok=True)
            for voice in voices:
                for i, (p, d) in enumerate(itertools.product(pitches, _STRETCHES)):
                    _speak(family, voice, word, p, d,
                           folder / f"{family}-{voice}_nohash_{i}.wav")
                    n += 1
        written[family] = n
    return written


def main(argv=None) -> int:
    from neuromem.data.corpus import KEYWORDS

    args = sys.argv[1:] if argv is None else list(argv)
    if len(args) != 1:
        print("usage: python -m neuromem.data.othersynth ROOT", file=sys.stderr)
        return 2
    if not available_families():
        print("no other synthesizer installed (apt install flite)", file=sys.stderr)
        return 1
    for family, n in write_keywords(args[0], KEYWORDS).items():
        print(f"{family}: {n} clips")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
