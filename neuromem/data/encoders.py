"""Spike encoders: feature frames -> input events (time step, channel) for the engine.

Every encoder is a frozen parameter dataclass (the ``[parameters.encoder]`` table of a
dataset card, with ``kind = "rate" | "latency" | "delta"``) whose :meth:`encode` turns a
``(n_frames, n_features)`` array into two int64 arrays ``steps`` and ``channels``, sorted by
step then channel. :func:`encode_batch` builds a :class:`neuromem.network.SpikeInput`.

Time axis
---------
Frame ``k`` of the front end covers ``[k hop_s, (k + 1) hop_s)``; on the engine's grid of
``dt_s`` it spans the steps ``[k S, (k + 1) S)`` with ``S = hop_s / dt_s`` steps per frame
(an integer, checked to 1e-6 relative). A sample of ``n_frames`` frames lasts
``n_steps = n_frames * S`` steps, and every event lies in ``[0, n_steps)``. An input row
spikes at most once per step, so no encoder emits a (step, channel) pair twice.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from neuromem.exceptions import ConfigError
from neuromem.schema import at_least, build, closest, fraction, param, positive

__all__ = ["RateEncoder", "LatencyEncoder", "DeltaEncoder", "ENCODERS", "encoder_from_mapping",
           "steps_per_frame", "n_steps", "encode_batch", "fit_range", "unit_scale"]


def steps_per_frame(hop_s: float, dt_s: float) -> int:
    """Engine steps per feature frame, ``hop_s / dt_s``, which must be a whole number."""
    if not (hop_s > 0 and dt_s > 0):
        raise ConfigError(f"expected hop_s and dt_s > 0, got {hop_s!r} and {dt_s!r}",
                          key="dt_s")
    ratio = hop_s / dt_s
    s = int(round(ratio))
    if s < 1 or abs(ratio - s) > 1e-6 * ratio:
        raise ConfigError(f"the frame hop {hop_s:g} s is not a whole number of steps of "
                          f"dt_s = {dt_s:g} s (ratio {ratio:g})", key="dt_s")
    return s


def _features(features) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ConfigError(f"expected features of shape (n_frames, n_features), got {x.shape}",
                          key="features")
    if not np.all(np.isfinite(x)):
        raise ConfigError("features must be finite", key="features")
    return x


def _sorted(steps: np.ndarray, channels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((channels, steps))
    return steps[order].astype(np.int64), channels[order].astype(np.int64)


@dataclasses.dataclass(frozen=True)
class RateEncoder:
    """Poisson (Bernoulli per step) rate code.

    Notes
    -----
    A feature :math:`x \\in [0, 1]` (clipped) of frame :math:`k` gives the rate
    :math:`r = x\\,r_\\max`; in each of the frame's :math:`S` steps the channel spikes
    independently with probability :math:`p = r\\,\\Delta t` (``max_rate_Hz * dt_s <= 1``).
    The count per frame is Binomial(:math:`S, p`): mean :math:`S p`, variance
    :math:`S p (1 - p)`.
    """

    kind: ClassVar[str] = "rate"
    dt_s: float = param(0.001, unit="s", check=positive, doc="engine time step")
    max_rate_Hz: float = param(200.0, unit="Hz", check=positive, doc="rate of a feature of 1")

    def check(self) -> None:
        if self.max_rate_Hz * self.dt_s > 1:
            raise ConfigError(f"max_rate_Hz * dt_s = {self.max_rate_Hz * self.dt_s:g} exceeds "
                              "1 spike per step", key="max_rate_Hz")

    def n_channels(self, n_features: int) -> int:
        """Input channels for ``n_features`` features (one each)."""
        return int(n_features)

    def encode(self, features, hop_s: float, rng: np.random.Generator):
        """Events of one sample: (steps, channels) int64, sorted by step then channel."""
        if not isinstance(rng, np.random.Generator):
            raise ConfigError("RateEncoder.encode needs a numpy.random.Generator", key="rng")
        x = np.clip(_features(features), 0.0, 1.0)
        s = steps_per_frame(hop_s, self.dt_s)
        p = x * (self.max_rate_Hz * self.dt_s)
        fires = rng.random((x.shape[0], s, x.shape[1])) < p[:, None, :]
        frame, sub, chan = np.nonzero(fires)
        return (frame * s + sub).astype(np.int64), chan.astype(np.int64)


@dataclasses.dataclass(frozen=True)
class LatencyEncoder:
    """Time-to-first-spike code: stronger features spike earlier.

    ``per = "frame"``: at most one spike per channel in every frame; ``per = "window"``: one
    spike per channel for the whole sample, from the channel's mean over the frames.

    Notes
    -----
    Over a span of :math:`N` steps (:math:`N = S` per frame, :math:`N = n_\\mathrm{frames} S`
    per window) a feature :math:`x \\in [0, 1]` (clipped) spikes at the offset

    .. math:: j = \\left\\lfloor (N - 1)(1 - x) + \\tfrac12 \\right\\rfloor

    i.e. :math:`t = t_\\max (1 - x)` with :math:`t_\\max = (N - 1)\\,\\Delta t`, rounded to
    the nearest step (halves up). Features below ``threshold`` do not spike.
    """

    kind: ClassVar[str] = "latency"
    dt_s: float = param(0.001, unit="s", check=positive, doc="engine time step")
    threshold: float = param(0.1, check=fraction, doc="features below it send no spike")
    per: str = param("frame", kind=str, choices=("frame", "window"),
                     doc="one spike per channel per frame, or per window")

    def n_channels(self, n_features: int) -> int:
        """Input channels for ``n_features`` features (one each)."""
        return int(n_features)

    def encode(self, features, hop_s: float, rng: np.random.Generator | None = None):
        """Events of one sample: (steps, channels) int64, sorted by step then channel.

        ``rng`` is ignored (the code is deterministic); it is accepted for a uniform call.
        """
        x = np.clip(_features(features), 0.0, 1.0)
        s = steps_per_frame(hop_s, self.dt_s)
        if self.per == "window":
            n = x.shape[0] * s
            level = x.mean(axis=0)[None, :]
        else:
            n = s
            level = x
        frame, chan = np.nonzero(level >= self.threshold)
        offset = np.floor((n - 1) * (1.0 - level[frame, chan]) + 0.5).astype(np.int64)
        return _sorted(frame * s + offset, chan)


@dataclasses.dataclass(frozen=True)
class DeltaEncoder:
    """Send-on-delta (level-crossing) code with ON and OFF channels.

    Feature ``c`` drives ON channel ``c`` and OFF channel ``n_features + c``: ``2 n``
    channels in all. This is the cochlea-like coding behind the Spiking Heidelberg Digits,
    which respond to changes rather than levels.

    Notes
    -----
    The reference starts at the first frame's value :math:`x_0` (frame 0 sends nothing), so
    it always sits on a level :math:`x_0 + m\\theta`. With :math:`u_k = (x_k - x_0)/\\theta`
    the level index follows

    .. math:: m_k = \\min(\\max(m_{k-1}, \\lfloor u_k \\rfloor), \\lceil u_k \\rceil)

    i.e. each full step :math:`\\theta` the signal moved away from the reference is one
    crossing (a change of exactly :math:`\\theta` counts). Frame :math:`k` sends
    :math:`m_k - m_{k-1}` ON events if positive, :math:`m_{k-1} - m_k` OFF events if
    negative, on consecutive steps from the frame's first step: the i-th event at step
    :math:`k S + i`. At most ``min(S, max_events_per_frame)`` events per channel and frame
    are sent (the rest are dropped; the reference still follows the signal).
    """

    kind: ClassVar[str] = "delta"
    dt_s: float = param(0.001, unit="s", check=positive, doc="engine time step")
    threshold: float = param(0.5, check=positive,
                             doc="level step, in feature units (log-mel: natural log)")
    max_events_per_frame: int = param(1_000_000, kind=int, check=at_least(1),
                                      doc="cap on events per channel per frame")

    def n_channels(self, n_features: int) -> int:
        """Input channels for ``n_features`` features (ON and OFF each)."""
        return 2 * int(n_features)

    def levels(self, features) -> np.ndarray:
        """The level index :math:`m_k` per frame and feature, int64 ``(n_frames, n)``."""
        x = _features(features)
        u = (x - x[0]) / self.threshold
        lo, hi = np.floor(u), np.ceil(u)
        m = np.zeros(x.shape, dtype=np.int64)
        current = np.zeros(x.shape[1])
        for k in range(1, x.shape[0]):
            current = np.minimum(np.maximum(current, lo[k]), hi[k])
            m[k] = current.astype(np.int64)
        return m

    def encode(self, features, hop_s: float, rng: np.random.Generator | None = None):
        """Events of one sample: (steps, channels) int64, sorted by step then channel.

        ``rng`` is ignored (the code is deterministic); it is accepted for a uniform call.
        """
        x = _features(features)
        s = steps_per_frame(hop_s, self.dt_s)
        n = x.shape[1]
        delta = np.diff(self.levels(x), axis=0, prepend=0)
        cap = min(s, self.max_events_per_frame)
        counts = np.minimum(np.abs(delta), cap)
        frame, feat = np.nonzero(counts)
        reps = counts[frame, feat]
        chan = np.where(delta[frame, feat] > 0, feat, feat + n)
        first = np.repeat(frame * s, reps)
        within = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
        return _sorted(first + within, np.repeat(chan, reps))


#: Encoder kinds by name (the ``kind`` key of a card's ``[parameters.encoder]`` table).
ENCODERS: dict[str, type] = {cls.kind: cls for cls in (RateEncoder, LatencyEncoder,
                                                         DeltaEncoder)}


def encoder_from_mapping(data, *, file=None, section: str = "parameters.encoder"):
    """Build an encoder from a card table ``{kind = "...", <fields>}``."""
    if not isinstance(data, dict):
        raise ConfigError("expected a table with kind = 'rate' | 'latency' | 'delta'",
                          file=file, key=section)
    data = dict(data)
    kind = data.pop("kind", None)
    if kind not in ENCODERS:
        raise ConfigError(f"expected kind one of {', '.join(map(repr, ENCODERS))}, got "
                          f"{kind!r}{closest(str(kind), ENCODERS)}", file=file,
                          key=f"{section}.kind")
    return build(ENCODERS[kind], data, file=file, section=section)


def encode_batch(encoder, features, hop_s: float, seed=0):
    """Encode several samples into one :class:`neuromem.network.SpikeInput`.

    Parameters
    ----------
    encoder : RateEncoder, LatencyEncoder or DeltaEncoder
    features : sequence of arrays (n_frames, n_features), or array (n_samples, n_frames, n)
    hop_s : float
        Frame step of the front end (s).
    seed : int or numpy.random.SeedSequence
        Sample ``i`` draws from ``default_rng(SeedSequence(seed).spawn(n)[i])``, so its
        events do not depend on the other samples of the batch.
    """
    from neuromem.network import SpikeInput

    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    features = list(features)
    children = ss.spawn(len(features))
    return SpikeInput.from_lists(
        encoder.encode(f, hop_s, np.random.default_rng(child))
        for f, child in zip(features, children))


def fit_range(features, lower_pct: float = 1.0,
              upper_pct: float = 99.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel percentiles of training features, to map them onto [0, 1].

    Returns (low, high), each ``(n_channels,)``; ``high`` is at least ``low + 1e-12``.
    """
    if not 0 <= lower_pct < upper_pct <= 100:
        raise ConfigError(f"expected 0 <= lower_pct < upper_pct <= 100, got {lower_pct}, "
                          f"{upper_pct}", key="lower_pct")
    arr = np.asarray(features, dtype=np.float64)
    flat = arr.reshape(-1, arr.shape[-1])
    low = np.percentile(flat, lower_pct, axis=0)
    high = np.percentile(flat, upper_pct, axis=0)
    return low, np.maximum(high, low + 1e-12)


def unit_scale(features, low, high) -> np.ndarray:
    """Map features onto [0, 1]: ``clip((x - low) / (high - low), 0, 1)`` per channel."""
    x = np.asarray(features, dtype=np.float64)
    low = np.asarray(low, dtype=np.float64)
    high = np.asarray(high, dtype=np.float64)
    if np.any(high <= low):
        raise ConfigError("expected high > low in every channel", key="high")
    return np.clip((x - low) / (high - low), 0.0, 1.0)


def n_steps(encoder, n_frames: int, hop_s: float) -> int:
    """Engine steps of a sample of ``n_frames`` frames: ``n_frames * hop_s / dt_s``."""
    return int(n_frames) * steps_per_frame(hop_s, encoder.dt_s)
