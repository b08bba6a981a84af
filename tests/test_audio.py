"""Audio front end: WAV I/O, resampling, trimming, windows, mel filters, log-mel, normalizer."""

import numpy as np
import pytest
from scipy.io import wavfile

from neuromem.data.audio import (
    FrontEnd,
    extract,
    fit_normalizer,
    fix_length,
    hz_to_mel,
    log_mel,
    mel_filterbank,
    mel_power,
    mel_to_hz,
    mix_at_snr,
    normalize_channels,
    read_wav,
    resample,
    silence_span,
    speech_span,
    trim_silence,
    write_wav,
)
from neuromem.exceptions import ConfigError, DataError
from neuromem.schema import build


def tone(f_Hz, sr, duration_s, amplitude=0.5):
    t = np.arange(int(round(duration_s * sr))) / sr
    return (amplitude * np.sin(2 * np.pi * f_Hz * t)).astype(np.float32)


# --------------------------------------------------------------------------- settings

def test_front_end_defaults_give_the_usual_98_frames():
    fe = build(FrontEnd, {})
    # 1 + (16000 - 400) // 160 = 98 frames; 400-sample frames -> 512-point FFT.
    assert (fe.n_window, fe.n_frame, fe.n_hop, fe.n_fft, fe.n_frames) == (16000, 400, 160,
                                                                           512, 98)


@pytest.mark.parametrize("table, key", [
    ({"f_max_Hz": 9000.0}, "f_max_Hz"),            # above Nyquist at 16 kHz
    ({"hop_s": 0.03}, "hop_s"),                    # hop longer than the frame
    ({"normalise": "none"}, "normalise"),          # unknown key (typo)
    ({"normalize": "global"}, "normalize"),        # not a choice
    ({"n_mels": 0}, "n_mels"),
])
def test_front_end_rejects_bad_settings_naming_the_key(table, key):
    with pytest.raises(ConfigError) as err:
        build(FrontEnd, table, section="parameters.front_end")
    assert err.value.key == f"parameters.front_end.{key}"


# --------------------------------------------------------------------------- WAV files

def test_write_then_read_wav_round_trips_within_one_quantisation_step(tmp_path, rng):
    x = rng.uniform(-1, 1, 1000).astype(np.float32)
    write_wav(tmp_path / "a.wav", x, 16000)
    y, sr = read_wav(tmp_path / "a.wav")
    assert sr == 16000 and y.dtype == np.float32 and y.shape == x.shape
    # Scaled by 2**15 and rounded: within half a step (2**-16) below full scale.
    assert np.max(np.abs(y - x)) <= 2.0 ** -16


@pytest.mark.parametrize("data, expected", [
    (np.array([0, 16384, -32768], np.int16), [0.0, 0.5, -1.0]),
    (np.array([0, 2 ** 30, -2 ** 31], np.int32), [0.0, 0.5, -1.0]),
    (np.array([128, 192, 0], np.uint8), [0.0, 0.5, -1.0]),
    (np.array([0.25, -0.75], np.float32), [0.25, -0.75]),
    (np.array([[16384, 0], [-16384, -16384]], np.int16), [0.25, -0.5]),  # stereo -> mean
])
def test_read_wav_scales_every_sample_format(tmp_path, data, expected):
    wavfile.write(tmp_path / "x.wav", 8000, data)
    x, sr = read_wav(tmp_path / "x.wav")
    assert sr == 8000
    np.testing.assert_allclose(x, expected, rtol=0, atol=1e-7)


def test_read_wav_errors_name_the_file(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio")
    empty = tmp_path / "empty.wav"
    wavfile.write(empty, 16000, np.zeros(0, np.int16))
    truncated = tmp_path / "cut.wav"
    write_wav(truncated, np.zeros(100), 16000)
    truncated.write_bytes(truncated.read_bytes()[:30])
    for path in (tmp_path / "missing.wav", text, empty, truncated, tmp_path):
        with pytest.raises(DataError, match=str(path.name)):
            read_wav(path)


# --------------------------------------------------------------------------- time domain

@pytest.mark.parametrize("sr_in, sr_out", [(44100, 16000), (8000, 16000), (22050, 16000)])
def test_resampling_keeps_a_sines_frequency_and_the_length_ratio(sr_in, sr_out):
    x = tone(440.0, sr_in, 1.0)
    y = resample(x, sr_in, sr_out)
    assert y.shape[0] == int(np.ceil(x.shape[0] * sr_out / sr_in))
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.shape[0])))
    freqs = np.fft.rfftfreq(y.shape[0], 1 / sr_out)
    # 1 s of signal: 1 Hz FFT bins; the peak must be the 440 Hz bin.
    assert abs(freqs[np.argmax(spectrum)] - 440.0) <= 1.0
    # 440 Hz is deep in the anti-aliasing filter's passband: amplitude kept within 1 %.
    middle = y[y.shape[0] // 4: 3 * y.shape[0] // 4]
    assert abs(np.sqrt(2 * np.mean(middle.astype(np.float64) ** 2)) - 0.5) < 0.005


def test_resampling_at_the_same_rate_is_a_copy():
    x = tone(100.0, 16000, 0.1)
    y = resample(x, 16000, 16000)
    assert y is not x and np.array_equal(x, y)


def test_trimming_finds_a_padded_tone_within_one_frame(rng):
    sr = 16000
    x = np.concatenate([np.zeros(6400), tone(700.0, sr, 0.3), np.zeros(4800)])
    x = x + 1e-5 * rng.standard_normal(x.shape[0])   # -90 dB floor, far below -40 dB
    start, stop = silence_span(x, sr, 40.0)
    frame = int(0.025 * sr)
    assert abs(start - 6400) <= frame and abs(stop - 11200) <= frame
    assert trim_silence(x, sr, 40.0).shape[0] == stop - start


def test_trimming_keeps_silence_and_everything_at_infinite_threshold():
    assert silence_span(np.zeros(500), 16000, 40.0) == (0, 500)
    x = tone(300.0, 16000, 0.1)
    assert silence_span(x, 16000, np.inf) == (0, x.shape[0])


def test_fix_length_pads_and_crops_exactly():
    x = np.arange(1, 6, dtype=np.float32)                       # [1 2 3 4 5]
    np.testing.assert_array_equal(fix_length(x, 8, "center"), [0, 1, 2, 3, 4, 5, 0, 0])
    np.testing.assert_array_equal(fix_length(x, 8, "start"), [1, 2, 3, 4, 5, 0, 0, 0])
    np.testing.assert_array_equal(fix_length(x, 3, "center"), [2, 3, 4])
    np.testing.assert_array_equal(fix_length(x, 3, "start"), [1, 2, 3])
    assert fix_length(x, 5).shape == (5,) and fix_length(x, 0).shape == (0,)
    with pytest.raises(ConfigError):
        fix_length(x, 3, "end")


def test_mix_at_snr_reaches_the_requested_ratio(rng):
    x = tone(500.0, 16000, 0.5)
    noise = rng.standard_normal(20000).astype(np.float32)
    y = mix_at_snr(x, noise, 10.0, rng)
    added = y.astype(np.float64) - x
    snr = 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / np.mean(added ** 2))
    assert abs(snr - 10.0) < 1e-3      # only float32 rounding of y separates them


# --------------------------------------------------------------------------- mel filters

def test_mel_scale_is_htk():
    np.testing.assert_allclose(hz_to_mel(700.0), 2595 * np.log10(2), rtol=1e-15)
    f = np.array([0.0, 100.0, 1000.0, 7999.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(f)), f, rtol=1e-12, atol=1e-9)


def test_mel_filterbank_matches_the_closed_form():
    n_mels, n_fft, sr, f_min, f_max = 20, 1024, 16000, 50.0, 7000.0
    bank = mel_filterbank(n_mels, n_fft, sr, f_min, f_max)
    # Independent closed form: HTK mel written with the natural log, 1127 ln(1 + f/700).
    mel = lambda f: 1127.0 * np.log1p(np.asarray(f) / 700.0)        # noqa: E731
    inv = lambda m: 700.0 * np.expm1(np.asarray(m) / 1127.0)        # noqa: E731
    edges = inv(np.linspace(mel(f_min), mel(f_max), n_mels + 2))
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    expected = np.zeros((n_mels, freqs.size))
    for m in range(n_mels):
        lo, c, hi = edges[m:m + 3]
        expected[m] = np.interp(freqs, [lo, c, hi], [0.0, 1.0, 0.0], left=0.0, right=0.0)
    # 1127 ln vs 2595 log10 differ in the last digits only (2595 / ln 10 = 1126.99...):
    # the edges move by < 0.1 Hz, the weights (slopes ~1/40 Hz) by < 3e-3.
    np.testing.assert_allclose(bank, expected, atol=3e-3)
    # Each filter peaks (height <= 1) at the FFT bin next to its centre frequency.
    peaks = freqs[np.argmax(bank, axis=1)]
    assert np.all(np.abs(peaks - edges[1:-1]) <= sr / n_fft)
    assert np.all(bank.max(axis=1) <= 1.0) and np.all(bank >= 0)
    # Partition of unity between the first and last centre; nothing outside [f_min, f_max].
    inside = (freqs >= edges[1]) & (freqs <= edges[-2])
    np.testing.assert_allclose(bank[:, inside].sum(axis=0), 1.0, rtol=0, atol=1e-12)
    assert np.all(bank[:, (freqs <= f_min) | (freqs >= f_max)] == 0)


def test_mel_filterbank_refuses_filters_without_a_bin():
    with pytest.raises(ConfigError, match="no FFT bin"):
        mel_filterbank(128, 64, 16000, 0.0, 8000.0)


# --------------------------------------------------------------------------- log-mel

@pytest.mark.parametrize("channel", [4, 18, 33])
def test_log_mel_of_a_pure_tone_peaks_in_its_channel(channel):
    fe = build(FrontEnd, {})
    edges = mel_to_hz(np.linspace(hz_to_mel(fe.f_min_Hz), hz_to_mel(fe.f_max_Hz),
                                  fe.n_mels + 2))
    f = edges[channel + 1]                          # the channel's centre frequency
    feats = log_mel(tone(f, fe.sample_rate_Hz, 1.0), fe)
    assert feats.shape == (98, 40) and feats.dtype == np.float32
    profile = feats.mean(axis=0)
    assert np.argmax(profile) == channel
    # Every frame agrees (the tone is stationary).
    assert np.all(np.argmax(feats, axis=1) == channel)


def test_log_mel_of_silence_is_the_log_floor():
    fe = build(FrontEnd, {"log_floor": 1e-4})
    feats = log_mel(np.zeros(16000), fe)
    np.testing.assert_allclose(feats, np.log(1e-4), rtol=1e-6)


def test_extract_gives_one_window_of_frames_from_any_rate_and_length():
    fe = build(FrontEnd, {"n_mels": 32})
    x = np.concatenate([np.zeros(800), tone(1000.0, 8000, 0.4), np.zeros(2000)])
    assert extract(x, 8000, fe).shape == (fe.n_frames, 32)


# --------------------------------------------------------------------------- noisy clips

def burst_in_noise(rng, start_s, length_s=0.3, snr_db=20.0, f_Hz=1000.0, sr=16000):
    """A tone burst at ``snr_db`` (burst power over noise power) in white noise filling 1 s."""
    x = 0.01 * rng.standard_normal(sr)
    a = int(start_s * sr)
    burst = tone(f_Hz, sr, length_s, amplitude=1.0)
    burst *= np.sqrt(1e-4 * 10 ** (snr_db / 10) / np.mean(burst.astype(np.float64) ** 2))
    x[a:a + burst.shape[0]] += burst
    return x, (a, a + burst.shape[0])


def test_speech_span_finds_a_burst_in_a_noise_floor_within_two_frames(rng):
    fe = build(FrontEnd, {})
    x, (a, b) = burst_in_noise(rng, 0.35)
    # No frame is 40 dB below the peak: the level rule would keep the whole clip ...
    assert silence_span(x, 16000, fe.trim_db) == (0, 16000)
    start, stop, noise = speech_span(x, fe)
    # ... the noise-floor rule finds the burst (frame edges: within two 10 ms hops).
    assert abs(start - a) <= 2 * fe.n_hop and abs(stop - b) <= 2 * fe.n_hop + fe.n_frame
    # The noise measured around it is the median mel power per channel of the noise alone:
    # the same statistic of an independent draw of the same noise, summed over the channels
    # (257 FFT bins x ~60 frames: sampling error ~2 %) within 10 %, each channel (a low
    # channel holds 1-2 bins: the median of ~60 exponential draws, ~20 % each) within a
    # factor 2. (Over 30 seeds of this setting one draw has a noise frame scoring above
    # vad_db next to the burst, which then starts 160 ms early: a VAD false alarm.)
    alone = np.median(mel_power(0.01 * rng.standard_normal(16000), fe), axis=1,
                      keepdims=True)
    assert noise.shape == (fe.n_mels, 1)
    assert abs(noise.sum() / alone.sum() - 1) < 0.10
    assert np.all(np.abs(np.log(noise / alone)) < np.log(2.0))


def test_speech_span_keeps_the_strongest_utterance_not_a_distant_weaker_one(rng):
    fe = build(FrontEnd, {})
    x, (a, b) = burst_in_noise(rng, 0.55, length_s=0.25)
    weak, _ = burst_in_noise(rng, 0.1, length_s=0.1, snr_db=12.0, f_Hz=3000.0)
    x = x + weak                             # a shorter, 8 dB weaker burst 0.3 s earlier
    start, stop, _ = speech_span(x, fe)
    assert abs(start - a) <= 2 * fe.n_hop and abs(stop - b) <= 2 * fe.n_hop + fe.n_frame


def test_speech_span_of_a_clip_with_silence_is_the_level_rule(rng):
    fe = build(FrontEnd, {})
    x = np.concatenate([np.zeros(6400), tone(700.0, 16000, 0.3), np.zeros(4800)])
    x = x + 1e-6 * rng.standard_normal(x.shape[0])
    assert speech_span(x, fe) == (*silence_span(x, 16000, fe.trim_db), None)
    # vad_db = inf turns the noise-floor rule off: a noisy clip is trimmed by level.
    noisy, _ = burst_in_noise(rng, 0.35)
    off = build(FrontEnd, {"vad_db": float("inf")})
    assert speech_span(noisy, off) == (0, 16000, None)


def test_spectral_subtraction_of_all_the_power_leaves_the_log_floor():
    fe = build(FrontEnd, {"log_floor": 1e-4})
    x = tone(500.0, 16000, 1.0)
    power = mel_power(x, fe)
    # Subtracting at least the power in every cell leaves max(., 0) + floor = floor exactly.
    feats = log_mel(x, fe, noise=power.max(axis=1, keepdims=True))
    np.testing.assert_allclose(feats, np.log(1e-4), rtol=1e-6)
    # denoise = 0 ignores the noise estimate.
    plain = build(FrontEnd, {"log_floor": 1e-4, "denoise": 0.0})
    np.testing.assert_array_equal(log_mel(x, plain, noise=power.max(axis=1, keepdims=True)),
                                  log_mel(x, plain))


def test_extract_centres_a_burst_in_noise_wherever_it_sits(rng):
    fe = build(FrontEnd, {})
    centres = []
    for start_s in (0.1, 0.35, 0.6):
        x, _ = burst_in_noise(rng, start_s)
        feats = extract(x, 16000, fe)
        loud = np.flatnonzero(feats.max(axis=1) > feats.max(axis=1).min() + 3.0)
        centres.append((loud[0] + loud[-1]) / 2)
    # A 0.3 s burst centred in a 1 s window: frames ~35..65, centre ~48 whatever its position.
    assert max(centres) - min(centres) <= 2 and abs(np.mean(centres) - 48) <= 3


# --------------------------------------------------------------------------- normalizer

def test_normalizer_gives_zero_mean_and_unit_std_on_training_data(rng):
    offsets = np.array([-8.0, 0.0, 3.0, 12.0])
    scales = np.array([0.1, 1.0, 4.0, 2.0])
    train = offsets + scales * rng.standard_normal((50, 98, 4))
    mean, std = fit_normalizer(train)
    z = normalize_channels(train, mean, std)
    flat = z.reshape(-1, 4).astype(np.float64)
    # Output is float32 (relative rounding 6e-8 on values of order 1): means of order 1e-7.
    np.testing.assert_allclose(flat.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(flat.std(axis=0), 1.0, atol=1e-6)
    # Variable-length feature arrays pool their frames.
    pieces = [train[i, : 40 + i] for i in range(10)]
    mean2, std2 = fit_normalizer(pieces)
    pooled = np.concatenate(pieces)
    np.testing.assert_allclose(mean2, pooled.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(std2, pooled.std(axis=0), rtol=1e-12)


def test_normalizer_floors_the_std_of_constant_channels():
    feats = np.zeros((10, 3))
    feats[:, 1] = np.arange(10)
    mean, std = fit_normalizer(feats)
    z = normalize_channels(feats, mean, std)
    assert np.all(np.isfinite(z)) and std[0] == pytest.approx(1e-6)
    with pytest.raises(ConfigError):
        normalize_channels(feats, mean[:2], std[:2])


# --------------------------------------------------------------------------- speaker and channel normalisation

def test_vtlp_warp_is_the_piecewise_linear_map():
    from neuromem.data.audio import vtlp_warp
    f = np.linspace(0.0, 8000.0, 801)
    np.testing.assert_array_equal(vtlp_warp(f, 1.0, 8000.0), f)
    for alpha in (0.85, 1.15):
        w = vtlp_warp(f, alpha, 8000.0)
        f0 = 0.6 * 8000.0 * min(alpha, 1.0) / alpha      # the knee (Jaitly & Hinton 2013)
        low = f <= f0
        np.testing.assert_allclose(w[low], alpha * f[low], rtol=1e-12)
        assert w[0] == 0.0 and w[-1] == pytest.approx(8000.0, abs=1e-9)   # band edges stay
        assert np.all(np.diff(w) > 0)                                     # increasing
        # the upper piece is the straight line through (f0, alpha f0) and (8000, 8000)
        hi = ~low
        slope = (8000.0 - alpha * f0) / (8000.0 - f0)
        np.testing.assert_allclose(w[hi], alpha * f0 + slope * (f[hi] - f0), rtol=1e-12)


def test_warped_filterbank_moves_low_centres_by_the_factor():
    from neuromem.data.audio import vtlp_warp
    plain = mel_filterbank(40, 512, 16000, 20.0, 8000.0)
    warped = mel_filterbank(40, 512, 16000, 20.0, 8000.0, warp=1.1)
    edges = mel_to_hz(np.linspace(hz_to_mel(20.0), hz_to_mel(8000.0), 42))
    freqs = np.arange(257) * 16000 / 512
    # filter 5's rising edge is now at warp(f5) .. warp(f6): check the closed form on the bins
    lo, c, hi = vtlp_warp(edges[5:8], 1.1, 8000.0)
    expected = np.maximum(0, np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)))
    np.testing.assert_allclose(warped[5], expected, atol=1e-12)
    assert not np.allclose(warped[5], plain[5])


def test_relative_floor_makes_features_independent_of_the_recording_level(rng):
    fe = build(FrontEnd, {"floor_db": 60.0})
    x, _ = burst_in_noise(rng, 0.3)
    a = extract(x, 16000, fe)
    b = extract(0.05 * x, 16000, fe)            # -26 dB: the same clip, quieter
    np.testing.assert_allclose(a, b, atol=1e-4)
    assert a.max() == pytest.approx(0.0, abs=1e-6)          # the loudest cell is 0
    assert a.min() >= -60.0 * np.log(10) / 10 - 1e-5        # nothing below the floor


def test_stretch_frames_interpolates_linearly():
    from neuromem.data.audio import stretch_frames
    ramp = np.arange(5, dtype=np.float64)[:, None] * np.array([[1.0, -2.0]])
    out = stretch_frames(ramp, 9)
    np.testing.assert_allclose(out[:, 0], np.linspace(0, 4, 9))
    np.testing.assert_allclose(out[:, 1], -2 * np.linspace(0, 4, 9))
    assert stretch_frames(ramp[:1], 3).shape == (3, 2)


def test_word_time_axis_normalises_the_speaking_rate():
    """A 'word' of two tones (A then B) spoken fast and slow fills the window either way:
    with time_axis = word the first half of the frames peaks in A's channel, the second in
    B's, whatever the duration."""
    fe = build(FrontEnd, {"time_axis": "word", "floor_db": 60.0})
    edges = mel_to_hz(np.linspace(hz_to_mel(fe.f_min_Hz), hz_to_mel(fe.f_max_Hz), 42))
    fa, fb = edges[9], edges[25]
    for half in (0.1, 0.3):
        x = np.concatenate([np.zeros(3000), tone(fa, 16000, half), tone(fb, 16000, half),
                            np.zeros(3000)])
        peak = np.argmax(extract(x, 16000, fe), axis=1)
        assert peak.shape == (fe.n_frames,)
        assert np.all(peak[:40] == 8) and np.all(peak[-40:] == 24)


def test_utterance_mean_normalisation_zeroes_each_channel_over_the_word():
    fe = build(FrontEnd, {"time_axis": "word", "utterance_norm": "mean"})
    x = np.concatenate([np.zeros(2000), tone(700.0, 16000, 0.4) + tone(2500.0, 16000, 0.4),
                        np.zeros(2000)])
    feats = extract(x, 16000, fe)
    # linear interpolation keeps a zero mean only approximately: within 1 % of the spread
    assert np.all(np.abs(feats.mean(axis=0)) < 0.01 * (feats.max() - feats.min()))
    with pytest.raises(ConfigError) as err:
        build(FrontEnd, {"utterance_norm": "cmvn"})
    assert err.value.key.endswith("utterance_norm")


def test_endpointing_drops_a_weak_click_before_the_word_but_keeps_a_stop_burst(rng):
    sr = 16000
    x = np.zeros(sr)
    word = slice(4000, 9000)                         # the word: 0.25-0.5625 s
    x[word] = tone(500.0, sr, 5000 / sr, amplitude=0.5)
    click = slice(1500, 1900)                        # 25 ms click, 32 dB down, 131 ms before
    x[click] = rng.standard_normal(400) * 0.5 / np.sqrt(2) * 10 ** (-32 / 20)
    burst = slice(10200, 10600)                      # stop burst 15 dB down after a 75 ms gap
    x[burst] = rng.standard_normal(400) * 0.5 / np.sqrt(2) * 10 ** (-15 / 20)
    frame = 400
    start, stop = silence_span(x, sr, 40.0, join_db=30.0)
    assert abs(start - word.start) <= frame and abs(stop - burst.stop) <= frame
    start_all, _ = silence_span(x, sr, 40.0)         # every frame within trim_db: the click too
    assert abs(start_all - click.start) <= frame
