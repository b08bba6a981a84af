"""What the engine consumes and counts: input spike events and the names of its event counters.

A leaf module (numpy only), so data loaders, encoders and the energy model can build spike
inputs and read event counts without importing the engine.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from neuromem.exceptions import ConfigError

__all__ = ["SpikeInput", "EVENT_NAMES"]

#: Event counters of a run, in the order of the engine kernel's counters
#: (``neuromem.kernels.engine.N_EVENTS`` of them; tests/test_engine.py checks).
EVENT_NAMES = ("input_spikes", "row_activations", "cells_read", "ltp_pulses", "ltd_pulses",
               "cells_written", "neuron_updates", "output_spikes", "inhibition_events", "steps")


@dataclasses.dataclass(frozen=True)
class SpikeInput:
    """Input spike trains of several samples as one event list.

    Sample b's events are ``steps[offsets[b]:offsets[b + 1]]`` (time-step indices, sorted)
    and ``channels[...]`` (input rows).
    """

    steps: np.ndarray
    channels: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_lists(cls, samples) -> "SpikeInput":
        """From a sequence of (steps, channels) pairs, one per sample (sorted here)."""
        steps, chans, offsets = [], [], [0]
        for st, ch in samples:
            st = np.asarray(st, dtype=np.int64).ravel()
            ch = np.asarray(ch, dtype=np.int64).ravel()
            if st.shape != ch.shape:
                raise ConfigError("steps and channels differ in length", key="inputs")
            order = np.argsort(st, kind="stable")
            steps.append(st[order])
            chans.append(ch[order])
            offsets.append(offsets[-1] + st.size)
        return cls(np.concatenate(steps) if steps else np.zeros(0, np.int64),
                   np.concatenate(chans) if chans else np.zeros(0, np.int64),
                   np.asarray(offsets, dtype=np.int64))

    @property
    def n_samples(self) -> int:
        return self.offsets.shape[0] - 1
