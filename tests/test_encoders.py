"""Spike encoders: hand-computed events, rate statistics, latency order, seeds, ranges."""

import numpy as np
import pytest

from neuromem.data.encoders import (DeltaEncoder, LatencyEncoder, RateEncoder, encode_batch,
                                    encoder_from_mapping, fit_range, n_steps, steps_per_frame,
                                    unit_scale)
from neuromem.exceptions import ConfigError
from neuromem.network import SpikeInput


def pairs(events):
    steps, channels = events
    assert steps.dtype == np.int64 and channels.dtype == np.int64
    return list(zip(steps.tolist(), channels.tolist()))


# --------------------------------------------------------------------------- time axis

def test_steps_per_frame_is_a_whole_number():
    assert steps_per_frame(0.010, 0.001) == 10        # 0.01 / 0.001 = 10.000000000000002
    assert steps_per_frame(0.010, 0.0005) == 20
    assert n_steps(RateEncoder(dt_s=0.0005), 98, 0.010) == 1960
    with pytest.raises(ConfigError, match="whole number"):
        steps_per_frame(0.010, 0.003)
    with pytest.raises(ConfigError):
        steps_per_frame(0.010, 0.02)                   # a frame shorter than a step


# --------------------------------------------------------------------------- delta

# Two channels, five frames, threshold 0.5, two steps per frame (hop 10 ms, dt 5 ms).
RAMP = np.array([[0.0, 1.00],
                 [0.5, 0.75],
                 [1.5, 0.25],
                 [1.0, 0.75],
                 [0.0, 1.25]])


def test_delta_levels_by_hand():
    # ch0: u = x / 0.5 = 0, 1, 3, 2, 0 -> levels follow u exactly.
    # ch1: u = (x - 1) / 0.5 = 0, -0.5, -1.5, -0.5, 0.5 -> 0, 0, -1, -1, 0 (a half step
    # back towards the reference is no crossing).
    levels = DeltaEncoder(dt_s=0.005, threshold=0.5).levels(RAMP)
    np.testing.assert_array_equal(levels, [[0, 0], [1, 0], [3, -1], [2, -1], [0, 0]])


def test_delta_events_by_hand():
    enc = DeltaEncoder(dt_s=0.005, threshold=0.5)
    assert enc.n_channels(2) == 4                    # ON 0, 1; OFF 2, 3
    # ch0: frame 1 one ON (step 2); frame 2 two ON (steps 4, 5); frame 3 one OFF (step 6);
    # frame 4 two OFF (steps 8, 9). ch1: frame 2 one OFF (step 4, channel 3); frame 4 one
    # ON (step 8, channel 1).
    assert pairs(enc.encode(RAMP, 0.010)) == [(2, 0), (4, 0), (4, 3), (5, 0), (6, 2), (8, 1),
                                              (8, 2), (9, 2)]


def test_delta_caps_events_per_frame():
    enc = DeltaEncoder(dt_s=0.005, threshold=0.5, max_events_per_frame=1)
    # The second crossings of frames 2 and 4 (steps 5 and 9) are dropped.
    assert pairs(enc.encode(RAMP, 0.010)) == [(2, 0), (4, 0), (4, 3), (6, 2), (8, 1), (8, 2)]
    # A jump of 5 levels within a 2-step frame sends 2 events (one per step at most).
    steps, channels = DeltaEncoder(dt_s=0.005, threshold=0.1).encode([[0.0], [0.5]], 0.010)
    assert pairs((steps, channels)) == [(2, 0), (3, 0)]


def test_delta_sends_nothing_for_a_constant_signal():
    steps, _ = DeltaEncoder(threshold=0.1).encode(np.full((20, 3), -4.2), 0.010)
    assert steps.size == 0


# --------------------------------------------------------------------------- latency

def test_latency_events_by_hand():
    x = np.array([[1.0, 0.5, 0.1],
                  [0.25, 0.75, 0.2]])
    enc = LatencyEncoder(dt_s=0.001, threshold=0.2)
    # 10 steps per frame: offset = floor(9 (1 - x) + 1/2): x=1 -> 0, 0.5 -> 5, 0.25 -> 7,
    # 0.75 -> 2, 0.2 -> 7 (at the threshold: spikes); 0.1 is below it: no spike.
    assert pairs(enc.encode(x, 0.010)) == [(0, 0), (5, 1), (12, 1), (17, 0), (17, 2)]
    # Per window: channel means 0.625, 0.625, 0.15 over 20 steps -> floor(19 * 0.375 + 0.5)
    # = 7 for the first two; the third is below the threshold.
    window = LatencyEncoder(dt_s=0.001, threshold=0.2, per="window")
    assert pairs(window.encode(x, 0.010)) == [(7, 0), (7, 1)]


def test_latency_stronger_features_spike_earlier(rng):
    x = rng.uniform(0.05, 1.0, size=(1, 64))
    steps, channels = LatencyEncoder(dt_s=0.0005, threshold=0.0).encode(x, 0.010)
    assert np.array_equal(np.sort(channels), np.arange(64))   # one spike per channel
    t = np.empty(64, np.int64)
    t[channels] = steps
    order = np.argsort(-x[0])                                   # strongest first
    assert np.all(np.diff(t[order]) >= 0)
    assert t[np.argmax(x[0])] <= t[np.argmin(x[0])] - 10        # and well separated


# --------------------------------------------------------------------------- rate

def test_rate_counts_follow_the_binomial_mean():
    enc = RateEncoder(dt_s=0.001, max_rate_Hz=200.0)
    levels = np.array([0.0, 0.25, 0.5, 1.0])
    x = np.tile(levels, (100, 1))                      # 100 frames of 10 steps = 1000 steps
    steps, channels = enc.encode(x, 0.010, np.random.default_rng(7))
    counts = np.bincount(channels, minlength=4)
    p = levels * 200.0 * 0.001                          # spike probability per step
    mean, sd = 1000 * p, np.sqrt(1000 * p * (1 - p))
    assert counts[0] == 0                               # a zero feature never spikes
    # Binomial counts: 5 standard deviations (two-sided miss probability 6e-7 per channel).
    assert np.all(np.abs(counts[1:] - mean[1:]) <= 5 * sd[1:])
    # Many channels together: 200 x 1000 trials at p = 0.1, sd = 134 spikes.
    many = RateEncoder(dt_s=0.001, max_rate_Hz=100.0).encode(
        np.full((100, 200), 1.0), 0.010, np.random.default_rng(8))[0].size
    assert abs(many - 20000) <= 5 * np.sqrt(200000 * 0.1 * 0.9)


def test_rate_at_one_spike_per_step_fires_every_step():
    steps, channels = RateEncoder(dt_s=0.001, max_rate_Hz=1000.0).encode(
        np.ones((3, 2)), 0.010, np.random.default_rng(0))
    assert steps.size == 60 and np.array_equal(np.unique(steps), np.arange(30))


def test_rate_is_deterministic_with_a_seed():
    x = np.random.default_rng(1).uniform(size=(30, 8))
    enc = RateEncoder()
    a = enc.encode(x, 0.010, np.random.default_rng(42))
    b = enc.encode(x, 0.010, np.random.default_rng(42))
    c = enc.encode(x, 0.010, np.random.default_rng(43))
    assert pairs(a) == pairs(b) and pairs(a) != pairs(c)
    with pytest.raises(ConfigError):
        enc.encode(x, 0.010, 42)


def test_encode_batch_builds_spike_input_independent_of_batch_size():
    rng = np.random.default_rng(3)
    feats = [rng.uniform(size=(20, 5)) for _ in range(3)]
    enc = RateEncoder()
    batch = encode_batch(enc, feats, 0.010, seed=11)
    assert isinstance(batch, SpikeInput) and batch.n_samples == 3
    again = encode_batch(enc, feats[:2], 0.010, seed=11)
    for i in range(2):
        a, b = slice(*batch.offsets[i:i + 2]), slice(*again.offsets[i:i + 2])
        assert np.array_equal(batch.steps[a], again.steps[b])
        assert np.array_equal(batch.channels[a], again.channels[b])
    assert not np.array_equal(encode_batch(enc, feats, 0.010, seed=12).steps, batch.steps)


# --------------------------------------------------------------------------- all encoders

@pytest.mark.parametrize("enc", [RateEncoder(dt_s=0.0005, max_rate_Hz=500.0),
                                 LatencyEncoder(dt_s=0.0005, threshold=0.0),
                                 LatencyEncoder(dt_s=0.0005, per="window"),
                                 DeltaEncoder(dt_s=0.0005, threshold=0.05),
                                 DeltaEncoder(dt_s=0.0005, threshold=0.01,
                                              max_events_per_frame=3)])
def test_events_are_sorted_unique_and_in_range(enc, rng):
    hop_s, n_frames, n_feat = 0.010, 25, 6
    x = rng.uniform(-0.5, 1.5, size=(n_frames, n_feat))     # out-of-range values on purpose
    steps, channels = enc.encode(x, hop_s, rng)
    assert steps.size > 0
    assert steps.min() >= 0 and steps.max() < n_steps(enc, n_frames, hop_s)
    assert channels.min() >= 0 and channels.max() < enc.n_channels(n_feat)
    key = steps * enc.n_channels(n_feat) + channels
    assert np.all(np.diff(key) > 0)                          # sorted, no repeated pairs


def test_encoder_cards_validate():
    enc = encoder_from_mapping({"kind": "delta", "threshold": 0.25, "dt_s": 0.0005})
    assert enc == DeltaEncoder(dt_s=0.0005, threshold=0.25)
    with pytest.raises(ConfigError, match="kind"):
        encoder_from_mapping({"kind": "poisson"})
    with pytest.raises(ConfigError) as err:
        encoder_from_mapping({"kind": "rate", "max_rate": 10.0})
    assert err.value.key == "parameters.encoder.max_rate"
    with pytest.raises(ConfigError, match="exceeds"):
        encoder_from_mapping({"kind": "rate", "max_rate_Hz": 3000.0, "dt_s": 0.001})
    with pytest.raises(ConfigError):
        encoder_from_mapping({"kind": "latency", "threshold": 1.5})


def test_unit_scale_maps_the_fitted_range_onto_0_1():
    feats = np.stack([np.linspace(-10, -2, 101), np.linspace(0, 1, 101)], axis=1)
    low, high = fit_range(feats, 0.0, 100.0)
    np.testing.assert_allclose(low, [-10, 0])
    np.testing.assert_allclose(high, [-2, 1])
    scaled = unit_scale(feats, low, high)
    np.testing.assert_allclose(scaled[:, 0], np.linspace(0, 1, 101), atol=1e-12)
    assert unit_scale([[-20.0, 5.0]], low, high).tolist() == [[0.0, 1.0]]   # clipped
