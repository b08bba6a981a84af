"""The synthesized keyword corpus: espeak-ng words, voice-disjoint splits, noise, the cache.

Speech comes from the espeakng-loader wheel (the ``audio`` extra); the corpus tests use 200
clips so the module runs in seconds.
"""

import dataclasses
import warnings

import h5py
import numpy as np
import pytest

pytest.importorskip("espeakng_loader")

from neuromem.data import corpus as corpus_module                      # noqa: E402
from neuromem.data.augment import colour_channel, room_response        # noqa: E402
from neuromem.data.corpus import (KEYWORDS, NOISE_KINDS, SPLITS, CorpusConfig,  # noqa: E402
                                  active_part, add_noise, cache_path, config_from_card,
                                  default_cache_dir, generate_corpus, load_corpus, make_noise)
from neuromem.data.synth import (english_accents, espeak_version, synthesize,  # noqa: E402
                                 voice_variants)
from neuromem.exceptions import ConfigError, DataError                  # noqa: E402

# the ten keywords alone, as spoken (the 12-class protocol and augmentation: TWELVE)
SMALL = CorpusConfig(n_clips=200, seed=7, unknown_fraction=0.0, silence_fraction=0.0,
                     augment=())
TWELVE = CorpusConfig(n_clips=360, seed=3, unknown_fraction=0.1, silence_fraction=0.1,
                      augment_prob=0.5)
NOISY = dataclasses.replace(SMALL, snr_db=(0.0, 20.0))


def _f0_Hz(x, fs):
    """Pitch of the middle 100 ms by autocorrelation (60-400 Hz)."""
    mid = x.size // 2
    seg = x[mid - fs // 20:mid + fs // 20].astype(np.float64)
    seg -= seg.mean()
    ac = np.correlate(seg, seg, "full")[seg.size - 1:]
    lo, hi = fs // 400, fs // 60
    return fs / (lo + np.argmax(ac[lo:hi]))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("corpus_cache")


@pytest.fixture(scope="module")
def clean(cache):
    return load_corpus(SMALL, cache, progress=False, workers=1)


@pytest.fixture(scope="module")
def noisy(cache):
    return load_corpus(NOISY, cache, progress=False, workers=1)


# ------------------------------------------------------------------------------- synthesis

def test_installed_voices():
    accents, variants = english_accents(), voice_variants()
    assert {"en", "en-us", "en-029", "en-gb-scotland", "en-gb-x-rp", "en-us-nyc"} <= set(accents)
    assert "en-shaw" not in accents                 # a script, not an accent
    assert len(variants) >= 100 and {"m1", "f2", "whisper", "klatt"} <= set(variants)
    assert espeak_version().count(".") == 2


def test_synthesis_is_deterministic_float32():
    first, fs = synthesize("left", "en-us", "m3", rate_wpm=150, pitch=30)
    synthesize("yes", "en-gb-x-rp", "Reed", rate_wpm=300, pitch=90)   # state in between
    again, _ = synthesize("left", "en-us", "m3", rate_wpm=150, pitch=30)
    assert fs == 22050 and first.dtype == np.float32 and first.ndim == 1
    assert np.array_equal(first, again)
    assert np.abs(first).max() < 1.0


@pytest.mark.parametrize("word", KEYWORDS)
def test_keywords_last_and_carry_energy(word):
    x, fs = synthesize(word, "en-gb-scotland", "f3")
    span = active_part(x)
    duration = (span.stop - span.start) / fs
    rms = np.sqrt(np.mean(x[span].astype(np.float64) ** 2))
    assert 0.15 < duration < 0.9 and rms > 0.02


def test_voices_differ():
    male, fs = synthesize("yes", "en-us", "m1")
    female, _ = synthesize("yes", "en-us", "f2")
    assert _f0_Hz(female, fs) > 1.4 * _f0_Hz(male, fs)
    accents = {a: synthesize("right", a, "m2")[0] for a in ("en-us", "en-gb-scotland", "en-029")}
    sizes_or_samples = {(x.size, x[:4000].tobytes()) for x in accents.values()}
    assert len(sizes_or_samples) == 3
    slow, fast = synthesize("down", rate_wpm=100)[0], synthesize("down", rate_wpm=300)[0]
    assert slow.size > 1.8 * fast.size


def test_synthesis_without_memfd_uses_a_temporary_copy(monkeypatch):
    import os

    from neuromem.data import synth
    reference, _ = synthesize("up", "en-029", "m5")
    monkeypatch.setattr(synth, "_memory_file", lambda image, name: None)
    monkeypatch.setattr(synth, "_PRIVATE", {})
    again, _ = synthesize("up", "en-029", "m5")
    copy = synth._PRIVATE[os.getpid()]
    assert "neuromem-espeak-" in copy and np.array_equal(again, reference)


def test_synthesis_errors_name_the_argument():
    with pytest.raises(ConfigError, match="did you mean 'en-us'") as err:
        synthesize("go", accent="en-uk")
    assert err.value.key == "accent"
    with pytest.raises(ConfigError, match="did you mean 'm3'"):
        synthesize("go", variant="m33")             # espeak itself would silently fall back
    for bad in (dict(rate_wpm=50), dict(pitch=101), dict(pitch=50.0), dict(word=""),
                dict(word="x" * 101)):
        with pytest.raises(ConfigError):
            synthesize(**{"word": "go", **bad})


# ------------------------------------------------------------------------------------- SNR

@pytest.mark.parametrize("kind", NOISE_KINDS)
@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 10.0, 20.0])
def test_add_noise_meets_the_snr(kind, snr_db, rng):
    fs, n = 16000, 16000
    word, _ = synthesize("stop", "en-us", "m4")
    x = np.zeros(n, np.float32)
    x[4000:4000 + word.size] = word
    babble = [synthesize(w)[0] for w in ("bed", "cat")] if kind == "babble" else ()
    noise = make_noise(kind, n + 500, rng, fs, babble)
    y = add_noise(x, noise, snr_db, rng)
    assert y.dtype == np.float32 and y.shape == x.shape
    active = active_part(x)
    assert active.start >= 4000 and active.stop <= 4000 + word.size
    p_signal = np.mean(x[active].astype(np.float64) ** 2)
    p_noise = np.mean((y.astype(np.float64) - x) ** 2)
    assert 10 * np.log10(p_signal / p_noise) == pytest.approx(snr_db, abs=0.1)


def test_add_noise_definition_and_errors(rng):
    x = np.zeros(1000)
    x[100:200] = 0.5                        # power 0.25 over the active part
    y = add_noise(x, np.ones(1000), 0.0, rng)
    assert np.allclose(y - x, 0.5)          # noise power 0.25 over the whole clip: 0 dB
    y = add_noise(x, np.ones(1000), 10.0, rng, active=slice(0, 1000))
    assert np.allclose(np.mean((y - x) ** 2), 0.025 / 10)
    offsets = {tuple(add_noise(x, np.arange(1.0, 3001.0), 0.0, np.random.default_rng(s))[:2])
               for s in range(5)}
    assert len(offsets) > 1                 # a longer noise: a random segment
    with pytest.raises(DataError, match="silent"):
        add_noise(np.zeros(10), np.ones(10), 0.0, rng)
    with pytest.raises(DataError, match="noise power"):
        add_noise(x, np.zeros(1000), 0.0, rng)
    with pytest.raises(ConfigError, match="shorter"):
        add_noise(x, np.ones(999), 0.0, rng)
    with pytest.raises(ConfigError):
        add_noise(x, np.ones(1000), float("nan"), rng)


# ---------------------------------------------------------------------------------- corpus

def test_shapes_and_dtypes(clean):
    n = SMALL.n_clips
    assert len(clean) == n
    assert clean.waveforms.shape == (n, 16000) and clean.waveforms.dtype == np.float32
    assert np.abs(clean.waveforms).max() <= 1.0
    assert clean.labels.dtype == np.int64 and set(clean.labels) == set(range(10))
    assert clean.label_names == KEYWORDS and clean.sample_rate_Hz == 16000
    assert set(clean.split) == set(SPLITS)
    assert clean.voices == voice_variants() and clean.accents == english_accents()
    assert set(clean.rate_wpm) <= set(SMALL.rates_wpm) and set(clean.pitch) <= set(SMALL.pitches)
    assert np.all(np.isnan(clean.snr_db)) and np.all(clean.noise == -1)
    assert np.all(clean.clipped == 0)
    x, y = clean.select("validation")
    assert x.shape[0] == y.size == np.sum(clean.split == "validation")
    with pytest.raises(ConfigError, match="did you mean 'validation'"):
        clean.select("valid")


def test_clips_hold_a_centred_shifted_word(clean):
    start, stop = clean.word_span.T
    assert np.all((start >= 0) & (stop <= 16000) & (stop - start > 0.12 * 16000))
    centre_offset = (start + stop) / 2 - 8000
    assert np.all(np.abs(centre_offset - clean.shift_s * 16000) <= 1)
    assert np.all(np.abs(clean.shift_s) <= SMALL.shift_s)
    assert np.all((clean.gain_db >= -6) & (clean.gain_db <= 6))
    outside = np.ones_like(clean.waveforms, dtype=bool)
    for i, (a, b) in enumerate(clean.word_span):
        outside[i, a:b] = False
    assert not np.any(clean.waveforms[outside])     # clean clips: silence around the word
    rms = np.sqrt([np.mean(w[a:b] ** 2) for w, (a, b) in zip(clean.waveforms, clean.word_span)])
    level = 10 ** ((SMALL.level_dbfs + clean.gain_db) / 20)
    assert np.allclose(rms, level, rtol=1e-3)


def test_splits_are_voice_disjoint_and_balanced(clean):
    voices = {s: set(clean.voice[clean.split == s]) for s in SPLITS}
    assert not voices["train"] & voices["validation"]
    assert not voices["train"] & voices["test"]
    assert not voices["validation"] & voices["test"]
    counts = np.bincount(clean.labels)
    assert counts.max() - counts.min() <= 1
    for s in SPLITS:
        per_class = np.bincount(clean.labels[clean.split == s], minlength=10)
        assert per_class.max() - per_class.min() <= 1
    share = np.array([np.sum(clean.split == s) for s in SPLITS]) / len(clean)
    assert np.allclose(share, SMALL.split_fractions, atol=0.03)


def test_plan_of_the_default_corpus():
    config = CorpusConfig()
    plan = corpus_module._plan(config)              # the plan alone: no synthesis
    assert len(plan.clips) == 9600
    per_label = np.bincount(plan.clips[:, 0])
    assert config.label_names == (*KEYWORDS, "_unknown_", "_silence_")
    # 1/12 of the clips each for _unknown_ and _silence_ (0.0834 x 9600 = 800.6, rounded
    # per split), the rest shared by the keywords to one clip
    assert abs(per_label[10] - 800.6) <= 2 and abs(per_label[11] - 800.6) <= 2
    assert per_label[:10].max() - per_label[:10].min() <= 3
    keyword = plan.clips[:, 0] < 10
    plan = dataclasses.replace(plan, clips=plan.clips[keyword])
    assert list(np.bincount(plan.variant_split)) == [73, 16, 15]
    for s in range(3):
        assert set(plan.clips[plan.clips[:, 5] == s, 1]) <= set(np.flatnonzero(
            plan.variant_split == s))
        for bank_entry in plan.bank[s]:             # babble voices stay in their split
            assert plan.variant_split[bank_entry[1]] == s
    combos = {tuple(row) for row in plan.clips[:, :5]}
    assert len(combos) == keyword.sum()             # sampled without replacement
    subset = corpus_module._plan(CorpusConfig(n_variants=6, n_clips=30))
    assert len(subset.variants) == 6 and list(np.bincount(subset.variant_split)) == [4, 1, 1]


def test_same_seed_same_corpus_in_a_process_pool(clean):
    again = generate_corpus(SMALL, progress=False, workers=2)
    assert np.array_equal(again.waveforms, clean.waveforms)
    for field in ("labels", "split", "voice", "accent", "shift_s", "gain_db", "word_span"):
        assert np.array_equal(getattr(again, field), getattr(clean, field))
    other = corpus_module._plan(dataclasses.replace(SMALL, seed=8))
    assert not np.array_equal(other.clips, corpus_module._plan(SMALL).clips)


def test_noisy_corpus_meets_its_snr(clean, noisy):
    assert np.array_equal(noisy.word_span, clean.word_span)        # same clips, same shifts
    assert np.all((noisy.snr_db >= 0) & (noisy.snr_db <= 20))
    assert set(noisy.noise) == set(range(len(NOISE_KINDS)))
    for i in range(len(noisy)):
        a, b = noisy.word_span[i]
        signal = clean.waveforms[i].astype(np.float64)
        added = noisy.waveforms[i] - signal
        measured = 10 * np.log10(np.mean(signal[a:b] ** 2) / np.mean(added ** 2))
        assert measured == pytest.approx(noisy.snr_db[i], abs=0.1)


# ----------------------------------------------------------------------------------- cache

def test_cache_round_trip(clean, cache, monkeypatch):
    path = cache_path(SMALL, cache)
    assert clean.path == path and path.is_file() and path.name.startswith("synth_kws-")

    def no_generation(*args, **kwargs):
        raise AssertionError("the cache should have been read")

    monkeypatch.setattr(corpus_module, "_generate", no_generation)
    again = load_corpus(SMALL, cache, progress=False)
    assert np.array_equal(again.waveforms, clean.waveforms)
    for field in ("labels", "split", "voice", "accent", "rate_wpm", "pitch", "shift_s",
                  "gain_db", "snr_db", "noise", "clipped", "word_span"):
        nan_ok = getattr(clean, field).dtype.kind == "f"
        assert np.array_equal(getattr(again, field), getattr(clean, field), equal_nan=nan_ok)
    assert again.voices == clean.voices and again.config == SMALL
    assert cache_path(NOISY, cache) != path
    with h5py.File(path) as f:
        assert f.attrs["complete"] and f["audio"].dtype == np.int16


@pytest.mark.parametrize("damage", ["bytes", "truncate", "stale"])
def test_damaged_cache_is_regenerated(damage, clean, tmp_path):
    path = cache_path(SMALL, tmp_path)
    path.write_bytes(clean.path.read_bytes())
    raw = bytearray(path.read_bytes())
    if damage == "bytes":                   # Fletcher-32 catches it when the audio is read
        middle = len(raw) // 2
        raw[middle:middle + 64] = bytes(64)
        path.write_bytes(raw)
    elif damage == "truncate":
        path.write_bytes(raw[:len(raw) // 3])
    else:
        with h5py.File(path, "r+") as f:
            f.attrs["config"] = "{}"
    with pytest.warns(UserWarning, match=f"damaged corpus cache.*{path.name}"):
        again = load_corpus(SMALL, tmp_path, progress=False, workers=1)
    assert np.array_equal(again.waveforms, clean.waveforms)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_corpus(SMALL, tmp_path, progress=False)  # rewritten: read without complaint


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("NEUROMEM_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    assert cache_path(SMALL).parent == tmp_path / "c"
    monkeypatch.delenv("NEUROMEM_CACHE")
    assert default_cache_dir().parts[-2:] == (".cache", "neuromem")


# ---------------------------------------------------------------------------------- config

def test_card_matches_the_default_config():
    assert config_from_card("synth_kws") == CorpusConfig()
    from neuromem.cards import list_cards, load_toml
    card = load_toml(list_cards("datasets")["synth_kws"])
    real = load_toml(list_cards("datasets")["speech_commands"])
    assert card["kind"] == "synth_kws" and card["name"] == "synth_kws"
    for table in ("front_end", "encoder"):          # processed like the real benchmark
        assert card["parameters"][table] == real["parameters"][table]


@pytest.mark.parametrize("change, key", [
    (dict(words=("yes", "yes")), "words"), (dict(rates_wpm=(60,)), "rates_wpm"),
    (dict(pitches=(50.0,)), "pitches"), (dict(n_clips=0), "n_clips"),
    (dict(snr_db=(10, 0)), "snr_db"), (dict(snr_db=float("inf")), "snr_db"),
    (dict(noise_kinds=("pinky",)), "noise_kinds"), (dict(shift_s=-0.1), "shift_s"),
    (dict(split_fractions=(0.5, 0.3, 0.3)), "split_fractions"), (dict(seed=-1), "seed"),
    (dict(sample_rate_Hz=16000.0), "sample_rate_Hz"), (dict(duration_s=0.0), "duration_s"),
])
def test_config_errors_name_the_field(change, key):
    with pytest.raises(ConfigError) as err:
        CorpusConfig(**change)
    assert err.value.key == key


def test_config_from_mapping_and_unknown_voices():
    config = CorpusConfig.from_mapping({"n_clips": "all", "snr_db": [5, 15], "gain_db": [0, 0]})
    assert config.n_clips is None and config.snr_db == (5.0, 15.0)
    with pytest.raises(ConfigError, match="did you mean 'n_clips'") as err:
        CorpusConfig.from_mapping({"n_clip": 10}, file="x.toml")
    assert err.value.key == "parameters.n_clip" and err.value.file == "x.toml"
    with pytest.raises(ConfigError) as err:
        CorpusConfig.from_mapping({"seed": "zero"})
    assert err.value.key == "parameters.seed"
    with pytest.raises(ConfigError, match="not installed"):
        corpus_module._plan(CorpusConfig(variants=("m1", "m99")))
    with pytest.raises(ConfigError, match="cannot fill the splits"):
        corpus_module._plan(CorpusConfig(n_variants=2))


# ----------------------------------------------------------- 12-class protocol, augmentation

@pytest.fixture(scope="module")
def twelve(cache):
    return load_corpus(TWELVE, cache, progress=False, workers=1)


def test_twelve_class_corpus_holds_unknown_words_and_silence(twelve):
    assert twelve.label_names == (*KEYWORDS, "_unknown_", "_silence_")
    counts = np.bincount(twelve.labels, minlength=12)
    assert abs(counts[10] - 36) <= 2 and abs(counts[11] - 36) <= 2     # 0.1 x 360 each
    unknown, silence = twelve.labels == 10, twelve.labels == 11
    assert set(twelve.text[unknown]) <= set(TWELVE.unknown_words)
    assert set(twelve.text[twelve.labels < 10]) <= set(KEYWORDS)
    for k in np.flatnonzero(twelve.labels < 10):
        assert twelve.text[k] == KEYWORDS[twelve.labels[k]]
    assert np.all(twelve.text[silence] == "")
    assert np.all(twelve.word_span[silence] == 0)
    # background alone at U(silence_dbfs) RMS, then the gain U(gain_db)
    rms_db = 20 * np.log10(np.sqrt(np.mean(twelve.waveforms[silence].astype(np.float64) ** 2,
                                           axis=1)))
    lo = TWELVE.silence_dbfs[0] + TWELVE.gain_db[0]
    hi = TWELVE.silence_dbfs[1] + TWELVE.gain_db[1]
    assert np.all((rms_db > lo - 0.5) & (rms_db < hi + 0.5))      # 16-bit rounding: < 0.5 dB
    # unknown words keep to the voices of their split, like the keywords
    for s in SPLITS:
        voices = set(twelve.voice[twelve.split == s])
        assert all(voices.isdisjoint(twelve.voice[twelve.split == t]) for t in SPLITS if t != s)


def test_augmentation_touches_only_training_clips_and_nothing_else(twelve):
    plain = generate_corpus(dataclasses.replace(TWELVE, augment=()), progress=False, workers=1)
    train = twelve.split == "train"
    np.testing.assert_array_equal(twelve.labels, plain.labels)
    np.testing.assert_array_equal(twelve.waveforms[~train], plain.waveforms[~train])
    assert np.all(twelve.warp[~train] == 1) and np.all(twelve.channel[~train] == -1)
    untouched = train & (twelve.channel < 0) & np.isnan(twelve.rt60_s)
    np.testing.assert_array_equal(twelve.waveforms[untouched], plain.waveforms[untouched])
    n = int(train.sum())
    for chosen in (twelve.warp[train] != 1, twelve.channel[train] >= 0,
                   ~np.isnan(twelve.rt60_s[train])):
        # each piece w.p. 0.5: the count is Binomial(n, 0.5); 4 sigma
        assert abs(chosen.sum() - n / 2) < 4 * np.sqrt(n / 4)
    warped = twelve.warp[train][twelve.warp[train] != 1]
    assert warped.min() >= TWELVE.vtlp_range[0] and warped.max() <= TWELVE.vtlp_range[1]
    rt = twelve.rt60_s[train][~np.isnan(twelve.rt60_s[train])]
    assert rt.min() >= TWELVE.rt60_s[0] and rt.max() <= TWELVE.rt60_s[1]


def test_room_impulse_response_decays_by_60_dB_in_rt60():
    rng = np.random.default_rng(0)
    fs, rt60 = 16000, 0.4
    h = room_response(int(1.2 * rt60 * fs), rt60, rng, fs)
    assert h[0] == 1.0
    tail = h[1:] ** 2
    # direct-to-reverberant ratio within the drawn 0-12 dB
    assert 0.0 <= -10 * np.log10(tail.sum()) <= 12.0 + 1e-9
    # Schroeder backward integral of the tail: a line of slope -60 dB / rt60; fit its
    # -5 .. -25 dB part (the usual T20 estimate), within 10 % for 7,680 Gaussian taps
    edc = 10 * np.log10(np.cumsum(tail[::-1])[::-1] / tail.sum())
    t = np.arange(1, h.size) / fs
    sel = (edc <= -5) & (edc >= -25)
    slope = np.polyfit(t[sel], edc[sel], 1)[0]
    assert -60.0 / slope == pytest.approx(rt60, rel=0.1)


def test_telephone_channel_passes_speech_band_only():
    fs = 16000
    t = np.arange(fs) / fs
    rng = np.random.default_rng(0)

    def gain_db(f):
        x = np.sin(2 * np.pi * f * t)
        y = colour_channel(x, "telephone", rng, fs)
        return 10 * np.log10(np.mean(y[fs // 2:] ** 2) / np.mean(x[fs // 2:] ** 2))

    assert abs(gain_db(1000.0)) < 1.0               # mid-band: Butterworth is flat
    assert gain_db(100.0) < -20.0 and gain_db(6000.0) < -20.0


def test_voice_families_split_the_variants():
    from neuromem.data.synth import klatt_variants
    klatt = set(klatt_variants())
    assert {"klatt", "klatt2", "klatt6"} <= klatt and "m1" not in klatt
    k, _ = corpus_module._resolve_voices(CorpusConfig(family="klatt"))
    f, _ = corpus_module._resolve_voices(CorpusConfig(family="formant"))
    assert set(k) == klatt and set(k).isdisjoint(f) and set(k) | set(f) == set(voice_variants())
    only_test = corpus_module._plan(CorpusConfig(family="klatt", n_clips=50,
                                                 split_fractions=(0.0, 0.0, 1.0)))
    assert np.all(only_test.clips[:, 5] == 2)       # an evaluation-only corpus


@pytest.mark.parametrize("change, key", [
    (dict(family="robots"), "family"), (dict(unknown_fraction=1.2), "unknown_fraction"),
    (dict(unknown_fraction=0.6, silence_fraction=0.5), "unknown_fraction"),
    (dict(unknown_words=("yes", "bed")), "unknown_words"), (dict(augment=("echo",)), "augment"),
    (dict(vtlp_range=(0.0, 1.1)), "vtlp_range"), (dict(rt60_s=(0.2, 5.0)), "rt60_s"),
    (dict(silence_dbfs=(-30, -60)), "silence_dbfs"),
])
def test_protocol_and_augmentation_errors_name_the_field(change, key):
    with pytest.raises(ConfigError) as err:
        CorpusConfig(**change)
    assert err.value.key == key


def test_augment_from_a_card_string():
    assert CorpusConfig.from_mapping({"augment": "none"}).augment == ()
    assert CorpusConfig.from_mapping({"augment": "vtlp,reverb"}).augment == ("vtlp", "reverb")
