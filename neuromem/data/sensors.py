"""Sensor time series for the edge workloads: loading, validation, send-on-delta features.

BasicMotions (sktime's shipped copy: 3-axis accelerometer and gyroscope, 4 activities,
40 train / 40 test series of 100 samples) is read through :mod:`sktime.datasets`, an optional
dependency (``pip install neuromem[sensors]``). Series are standardised per channel with the
training split's statistics and then level-crossing coded with
:class:`neuromem.data.encoders.DeltaEncoder`: every crossing of a level step ``threshold`` is
an UP (rising) or DOWN (falling) event of that channel. Events are counted per time bin and
(UP/DOWN, channel, bin) is one crossbar row.
"""

from __future__ import annotations

import numpy as np

from neuromem.data.encoders import DeltaEncoder
from neuromem.exceptions import ConfigError, DataError

__all__ = ["require_sktime", "load_basic_motions", "check_series", "delta_counts"]


def require_sktime():
    """Import sktime or fail with a one-line hint."""
    try:
        import sktime  # noqa: F401
    except ImportError:
        raise ConfigError("the sensor datasets need sktime: pip install 'neuromem[sensors]'",
                          key="data.dataset") from None
    return sktime


def check_series(x, *, file="<array>", n_channels: int | None = None) -> np.ndarray:
    """Validate (n, channels, time) float series: finite, 3-D; errors name file and series."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise DataError(f"{file}: expected series shaped (n, channels, time), got {x.shape}")
    if n_channels is not None and x.shape[1] != n_channels:
        raise DataError(f"{file}: expected {n_channels} channels, got {x.shape[1]}")
    bad = ~np.isfinite(x)
    if bad.any():
        i, c, t = np.argwhere(bad)[0]
        raise DataError(f"{file}: line {int(i) + 1}: series {int(i)} channel {int(c)} "
                        f"sample {int(t)} is not a finite number")
    return x


def load_basic_motions():
    """{split: (X (n, 6, 100), y int)}, label names (sorted), from sktime's shipped files."""
    require_sktime()
    from sktime.datasets import load_basic_motions as _load
    out, names = {}, None
    for split in ("train", "test"):
        x, y = _load(split=split, return_type="numpy3D")
        if names is None:
            names = tuple(sorted(set(y)))
        out[split] = (check_series(x, file=f"BasicMotions_{split.upper()}.ts", n_channels=6),
                      np.array([names.index(v) for v in y], dtype=np.int64))
    return out, names


def delta_counts(x: np.ndarray, threshold: float, bins: int) -> np.ndarray:
    """Level-crossing events of standardised series, counted per time bin.

    ``x`` is (n, channels, time). Returns (n, 2, channels, bins) float: [:, 0] UP events,
    [:, 1] DOWN events, from :meth:`DeltaEncoder.levels` (the level index per sample).
    """
    enc = DeltaEncoder(threshold=threshold)
    n, c, t = x.shape
    groups = np.array_split(np.arange(1, t), bins)
    out = np.zeros((n, 2, c, bins))
    for i in range(n):
        d = np.diff(enc.levels(x[i].T), axis=0)  # (t-1, c): crossings per sample step
        for b, g in enumerate(groups):
            out[i, 0, :, b] = np.clip(d[g - 1], 0, None).sum(axis=0)
            out[i, 1, :, b] = np.clip(-d[g - 1], 0, None).sum(axis=0)
    return out
