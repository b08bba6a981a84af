"""Model files: a trained network leaves its run (load_model, evaluate, predict, stream).

Expected values come from the training run itself (the predictions stored at train time must
be reproduced bit for bit by a loaded model: the engine is deterministic given the stored
cells, key and sample ids), from the construction of the test data (true onsets of words
placed in a recording), and from invariances (the same clip in any WAV encoding gets the same
answer; a phrase's words get the answers they get alone).
"""

import json
import wave

import h5py
import numpy as np
import pytest

import neuromem
from neuromem.cards import load_network_data
from neuromem.data.audio import resample, silence_span, write_wav
from neuromem.exceptions import ConfigError, DataError, StoreError
from neuromem.store import read_result, write_result
from neuromem.tasks import get_task

pytestmark = pytest.mark.slow

SR = 16000
SMALL = {"data.n_clips": 400, "delta.epochs": 2, "features.time_bins": 4,
         "features.t_present_s": 0.3}


def train(tmp, name, overrides, *, quick=False, seed=0):
    data, path, dev = load_network_data(name, overrides, quick=quick)
    res = get_task(data.get("task", name))(data, path=path, device_overrides=dev, seed=seed)
    out = write_result(tmp / f"{name}_{seed}.h5", metrics=res.metrics, cards=res.cards,
                       events=res.events, state=res.state, seed=seed, extra=res.extra,
                       model=res.model)
    return out, res


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("model_cache"))


@pytest.fixture(scope="module")
def kws_model(tmp_path_factory, cache):
    """The card's quick setting (2,000 clips, ~91 % on unheard voices)."""
    tmp = tmp_path_factory.mktemp("kws_model")
    path, res = train(tmp, "kws", {"data.cache_dir": cache}, quick=True)
    return path, res


def synth(word, variant="m3", rate=160):
    from neuromem.data.synth import synthesize
    x, sr = synthesize(word, variant=variant, rate_wpm=rate)
    x = resample(x, sr, SR)
    a, b = silence_span(x, SR, 40.0)
    x = x[a:b]
    return (x / np.sqrt(np.mean(x.astype(np.float64) ** 2)) * 10 ** (-26 / 20)).astype(
        np.float32)


# ------------------------------------------------------------------ bit-exact reload

def _assert_replays(path, res):
    model = neuromem.load_model(path)
    ev = model.evaluate()
    assert ev["replayed_test_split"]
    assert np.array_equal(np.asarray(ev["predictions"]), res.state["test_predictions"])
    assert ev["accuracy"] == res.metrics["accuracy"]
    assert np.array_equal(model.network.layer.pos.conductance_S, res.state["g_pos_S"])
    return model, ev


def test_kws_model_replays_its_test_split_bit_for_bit(kws_model):
    model, ev = _assert_replays(*kws_model)
    # the confusion counts every test clip once, silent ones in the last column
    conf = np.asarray(ev["confusion"])
    assert conf.sum() == ev["n_clips"] == kws_model[1].metrics["n_test"]
    assert ev["energy"]["spiking_J_per_inference"] == pytest.approx(
        kws_model[1].metrics["spiking_energy_per_inference_J"], rel=1e-12)


def test_non_ideal_models_replay_bit_for_bit(tmp_path, cache):
    """TaOx cells with 25 % D2D spread of G_max and A, stuck cells and read noise."""
    dev = {"device": "taox_hfox_wu2018", "device.g_max_dtod": 0.25, "device.a_dtod": 0.25,
           "device.stuck_on_rate": 0.02, "device.stuck_off_rate": 0.02,
           "device.read_noise_sigma": 0.02}
    path, res = train(tmp_path, "kws", {**SMALL, "data.cache_dir": cache, **dev}, seed=4)
    model, _ = _assert_replays(path, res)
    pos = model.network.layer.pos
    assert pos.fault.size == pos.g.size and np.any(pos.fault > 0)   # stuck cells kept
    assert pos.g_max.size == pos.g.size                              # per-cell D2D kept
    path, res = train(tmp_path, "digits_stdp", {"network.n_exc": 40, "data.n_train": 300,
                                                "data.epochs": 1, **dev}, seed=2)
    model, ev = _assert_replays(path, res)
    assert np.array_equal(model.network.population.state.theta, res.state["theta_V"])
    assert model.labels == tuple(str(d) for d in range(10))
    # retention: one day after programming every cell is G0 (t/t0)^-nu, floored at its g_min
    drifting = model.with_device("taox_hfox_wu2018", {"drift_nu": 0.02, "drift_t0_s": 1.0})
    old = drifting.network.layer.pos
    aged = drifting.aged(86400.0)
    new = aged.network.layer.pos
    expected = np.maximum(old.g * 86400.0 ** -0.02, np.broadcast_to(old.g_min, old.g.shape))
    assert np.array_equal(new.g, expected) and not np.array_equal(new.g, old.g)
    assert np.array_equal(drifting.network.layer.pos.g, old.g)      # the original unchanged
    assert aged.evaluate()["age_s"] == 86400.0


def test_model_format_versions(tmp_path, kws_model, neuromem_cli):
    path = tmp_path / "future.h5"
    path.write_bytes(kws_model[0].read_bytes())
    with h5py.File(path, "r+") as f:
        f["model"].attrs["model_format_version"] = 99
    with pytest.raises(StoreError, match="model format 99 is newer"):
        neuromem.load_model(path)
    bare = write_result(tmp_path / "bare.h5", metrics={"accuracy": 0.5})
    with pytest.raises(StoreError, match="holds no trained model"):
        neuromem.load_model(bare)
    out = neuromem_cli("evaluate", str(path))
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert "model format 99" in out.stderr and out.stdout == ""


# ------------------------------------------------------------------ evaluate

def _folder(root, words, variants, extra=None):
    for w in words:
        (root / w).mkdir(parents=True, exist_ok=True)
        for v in variants:
            write_wav(root / w / f"{v}_nohash_0.wav", synth(w, v), SR)
    for name, data in (extra or {}).items():
        (root / name).write_bytes(data)
    return root


def test_evaluate_a_folder_matches_labels_by_name(tmp_path, kws_model):
    # folder order (sorted: go, stop, yes) differs from the model's (yes ... go)
    root = _folder(tmp_path / "rec", ["yes", "stop", "go"], ["f2", "m7", "croak"])
    model = neuromem.load_model(kws_model[0])
    ev = model.evaluate("folder", data_dir=root)
    assert ev["n_clips"] == 9 and not ev["replayed_test_split"]
    assert set(ev["per_label"]) == {"yes", "stop", "go"}
    truth = np.asarray(ev["true_labels"])
    assert sorted(set(truth.tolist())) == sorted(model.labels.index(w)
                                                 for w in ("yes", "stop", "go"))
    # the same files through predict give the same answers
    files = sorted(root.glob("*/*.wav"))
    direct = model.predict(files)
    by_file = dict(zip((f"{p.parent.name}/{p.name}" for p in files), direct.index))
    conf = np.asarray(ev["confusion"])
    assert conf.sum() == 9
    for w in ("yes", "stop", "go"):
        k = model.labels.index(w)
        right = sum(by_file[f"{w}/{v}_nohash_0.wav"] == k for v in ("f2", "m7", "croak"))
        assert conf[k, k] == right
        assert ev["per_label"][w]["accuracy"] == pytest.approx(right / 3)
    # a word the 12-class model has no class for is an _unknown_ clip (Speech Commands)
    _folder(root, ["cat"], ["m1"])
    ev = model.evaluate("folder", data_dir=root)
    assert ev["per_label"]["_unknown_"]["n"] == 1 and set(ev["per_label"]) == {
        "yes", "stop", "go", "_unknown_"}
    # a model without an _unknown_ class: one error listing both label sets
    from neuromem.model.evaluate import _match_labels
    with pytest.raises(ConfigError, match="does not know: cat .*model: yes, no"):
        _match_labels(["yes", "cat"], ["yes", "no"])


def test_evaluate_cli_json_ex_situ_and_result_file(tmp_path, kws_model, neuromem_cli):
    root = _folder(tmp_path / "rec", ["left", "right"], ["f3", "m2"])
    out = neuromem_cli("evaluate", str(kws_model[0]), "--dataset", "folder", "--data-dir",
                         str(root), "--json", "-o", str(tmp_path / "ev.h5"))
    assert out.returncode == 0, out.stderr
    ev = json.loads(out.stdout)
    for key in ("accuracy", "n_clips", "per_label", "confusion", "labels", "energy"):
        assert key in ev
    assert ev["n_clips"] == 4 and ev["energy"]["spiking_J_per_inference"] > 0
    back = read_result(tmp_path / "ev.h5")
    assert back.metrics["accuracy"] == ev["accuracy"]
    energy = neuromem_cli("energy", str(tmp_path / "ev.h5"), "--json", "--no-store")
    assert energy.returncode == 0, energy.stderr
    # ex-situ: trained on ideal, programmed into TaOx (128 levels): reported as such, and the
    # programmed weights are the trained ones within one level of the device
    out = neuromem_cli("evaluate", str(kws_model[0]), "--set", "device=taox_hfox_wu2018", "--json")
    assert out.returncode == 0, out.stderr
    ev = json.loads(out.stdout)
    assert ev["device"] == "taox_hfox_wu2018"
    assert {k: ev["transfer"][k] for k in ("kind", "trained_on", "programmed_into")} == {
        "kind": "ex-situ", "trained_on": "ideal", "programmed_into": "taox_hfox_wu2018"}
    assert ev["transfer"]["programming_pulses"] > 0
    model = neuromem.load_model(kws_model[0])
    # without C2C noise every programmed cell sits exactly on a level of its device's LTP
    # curve, G(P) = B (1 - exp(-P / A)) + g_min, at the whole P nearest to its target
    moved = model.with_device("taox_hfox_wu2018", {"ctoc_sigma": 0.0})
    dev = moved.device.params
    p_lvl, g_lvl = dev.curve("ltp")
    pos = moved.network.layer.pos.g
    nearest = np.abs(pos[:, None] - g_lvl[None, :]).min(axis=1)
    assert nearest.max() <= 1e-12 * dev.g_max_S
    w0, w1 = model.network.layer.weights(), moved.network.layer.weights()
    widest = np.diff(g_lvl).max() / (dev.g_max_S - dev.g_min_S)
    assert np.max(np.abs(w0 - w1)) <= widest + 1e-12     # half a level on each of two cells
    ratio0 = model.network.layer.gain / model.network.layer.base_gain
    ratio1 = moved.network.layer.gain / moved.network.layer.base_gain
    assert np.allclose(ratio0, ratio1, rtol=1e-12)       # a spike delivers the same input
    # with the card's C2C noise the cells scatter around the levels
    noisy = model.with_device("taox_hfox_wu2018").network.layer.pos.g
    assert np.abs(noisy[:, None] - g_lvl[None, :]).min(axis=1).max() > 1e-3 * dev.g_max_S


def test_data_dir_is_refused_where_a_dataset_takes_none(tmp_path, neuromem_cli):
    for net in ("kws", "digits_stdp"):
        out = neuromem_cli("run", net, "--data-dir", str(tmp_path), "--quick")
        assert out.returncode == 2, (net, out.stderr)
        assert out.stderr.startswith("neuromem: ") and out.stderr.count("\n") == 1


def test_folder_as_a_test_set(tmp_path):
    from neuromem.data.loaders import FolderDataset
    root = _folder(tmp_path / "r", ["b", "a"], ["m1", "m2", "m3"])
    ds = FolderDataset(root, split="test")
    assert len(ds.split("test")) == 6 and len(ds.split("train")) == 0
    assert ds.label_names == ("a", "b")
    with pytest.raises(ConfigError):
        FolderDataset(root, split="all")


# ------------------------------------------------------------------ predict

def _write_pcm(path, x, sr, width, channels=1):
    """A WAV of integer PCM (``width`` bytes per sample) written with the stdlib."""
    full = 2 ** (8 * width - 1)
    q = np.clip(np.round(np.asarray(x, np.float64) * full), -full, full - 1).astype(np.int64)
    if width == 1:
        q = q + 128
    q = np.repeat(q[:, None], channels, axis=1).ravel()
    raw = b"".join(int(v).to_bytes(width, "little", signed=width > 1) for v in q) \
        if width == 3 else q.astype({1: "<u1", 2: "<i2", 4: "<i4"}[width]).tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(sr)
        w.writeframes(raw)


def test_any_wav_gets_the_same_answer(tmp_path, kws_model):
    from scipy.io import wavfile
    model = neuromem.load_model(kws_model[0])
    x = np.concatenate([np.zeros(4000, np.float32), synth("right", "f1"),
                        np.zeros(4000, np.float32)])
    files = {}
    for name, width, ch in (("pcm16", 2, 1), ("pcm24", 3, 1), ("pcm32", 4, 1),
                            ("pcm8", 1, 1), ("stereo16", 2, 2)):
        files[name] = tmp_path / f"{name}.wav"
        _write_pcm(files[name], x, SR, width, ch)
    files["float32"] = tmp_path / "float32.wav"
    wavfile.write(files["float32"], SR, x)
    for sr in (44100, 8000):
        files[f"sr{sr}"] = tmp_path / f"sr{sr}.wav"
        wavfile.write(files[f"sr{sr}"], sr, resample(x, SR, sr))
    out = model.predict_files(list(files.values()))
    labels = {f["file"]: f["label"] for f in out["files"]}
    ref = labels[str(files["pcm16"])]
    # Same samples (16/24/32 bit, float, two identical channels): the same answer exactly;
    # 8-bit quantisation and resampling change the samples a little, not the word.
    for name, path in files.items():
        assert labels[str(path)] == ref, name
    probs = {f["file"]: f["probabilities"] for f in out["files"]}
    for name in ("pcm24", "pcm32", "float32", "stereo16"):
        assert probs[str(files[name])] == pytest.approx(probs[str(files["pcm16"])], abs=0.02)


def test_short_long_and_two_word_clips(tmp_path, kws_model):
    model = neuromem.load_model(kws_model[0])
    a, b = synth("left", "m2"), synth("stop", "m2")
    alone = model.predict_files([_w(tmp_path / "a.wav", a), _w(tmp_path / "b.wav", b)])
    la, lb = (f["forced_label"] for f in alone["files"])
    gap = np.zeros(int(0.4 * SR), np.float32)
    phrase = np.concatenate([gap, a, gap, b, gap])
    out = model.predict_files([_w(tmp_path / "ab.wav", phrase)])["files"][0]
    words = out["words"]
    assert [w["forced_label"] for w in words] == [la, lb]
    assert words[0]["start_s"] == pytest.approx(0.4, abs=0.05)
    assert words[1]["start_s"] == pytest.approx(0.8 + len(a) / SR, abs=0.05)
    # a clip shorter than the window and one 3 s long with the word in the middle
    long = np.concatenate([np.zeros(SR), a, np.zeros(2 * SR - len(a))])
    out = model.predict_files([_w(tmp_path / "s.wav", a), _w(tmp_path / "l.wav", long)])
    assert [f["forced_label"] for f in out["files"]] == [la, la]


def _w(path, x):
    write_wav(path, x, SR)
    return path


def test_bad_files_refused_or_skipped(tmp_path, kws_model, neuromem_cli):
    good = _w(tmp_path / "good.wav", synth("go"))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage")
    out = neuromem_cli("predict", str(kws_model[0]), str(good), str(empty), "--json")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.startswith("neuromem: ") and "empty.wav" in out.stderr
    assert out.stderr.count("\n") == 1
    out = neuromem_cli("predict", str(kws_model[0]), str(good), str(empty), str(corrupt),
                         "--json", "--skip-bad")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert len(res["files"]) == 1 and len(res["skipped"]) == 2
    # in a folder: refused before any work, or skipped and counted
    root = _folder(tmp_path / "rec", ["go"], ["m1", "f1"])
    (root / "go" / "broken.wav").write_bytes(b"RIFFxxxx")
    model = neuromem.load_model(kws_model[0])
    with pytest.raises(DataError, match="broken.wav"):
        model.evaluate("folder", data_dir=root)
    ev = model.evaluate("folder", data_dir=root, skip_bad=True)
    assert ev["n_clips"] == 2 and ev["n_skipped"] == 1


# ------------------------------------------------------------------ streaming

def _recording(rng, keywords, others):
    """Words at known times with silence, a noise floor and noise bursts between them."""
    from neuromem.data.synth import voice_variants
    variants = voice_variants()
    plan = [(w, True) for w in keywords] + [(w, False) for w in others]
    order = rng.permutation(len(plan))
    parts, truth, t = [np.zeros(int(0.5 * SR), np.float32)], [], 0.5
    bursts = []
    for k, i in enumerate(order):
        word, is_kw = plan[i]
        x = synth(word, variants[int(rng.integers(len(variants)))],
                  int(rng.integers(140, 200)))
        parts.append(x)
        truth.append((word, is_kw, t, t + len(x) / SR))
        t += len(x) / SR
        pause = np.zeros(int(rng.uniform(0.8, 1.6) * SR), np.float32)
        if k % 4 == 3:  # a short burst of noise in the pause, 15 dB below the words
            n = int(0.05 * SR)
            start = len(pause) // 2
            pause[start:start + n] = rng.standard_normal(n) * 10 ** (-41 / 20)
            bursts.append(t + start / SR)
        parts.append(pause)
        t += len(pause) / SR
    y = np.concatenate(parts)
    y = y + (rng.standard_normal(len(y)) * 10 ** (-66 / 20)).astype(np.float32)  # 40 dB SNR
    return y, truth, bursts


def test_stream_finds_every_keyword_near_its_onset(tmp_path, kws_model, neuromem_cli):
    rng = np.random.default_rng(11)
    keywords = [w for w in neuromem.load_model(kws_model[0]).labels
                if not w.startswith("_")] * 2     # _unknown_, _silence_ are no words
    others = ["cat", "house", "seven", "bird", "happy", "tree"]
    y, truth, bursts = _recording(rng, keywords, others)
    path = _w(tmp_path / "long.wav", y)
    out = neuromem_cli("predict", str(kws_model[0]), "--stream", str(path), "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    det = res["detections"]
    found, correct = 0, 0
    for word, is_kw, on, off in truth:
        if not is_kw:
            continue
        found += any(abs(w["start_s"] - on) <= 0.150 for w in res["words"])
        correct += any(d["label"] == word for d in det if abs(d["start_s"] - on) <= 0.150)
    n_kw = sum(t[1] for t in truth)
    assert found == n_kw                      # every keyword segmented within 150 ms
    # the quick model (2,000 clips, 4 epochs) on unheard voices: measured 15 of 20 read
    # right here; a keyword answered _unknown_ or below min_confidence is no detection.
    # At most 6 missed (binomial p=0.15: P(>6) ~ 2 %; the fixture is seeded, so this is a
    # fixed check of the pipeline)
    assert correct >= n_kw - 6
    spans = [(on, off) for _, _, on, off in truth]
    false = [d for d in det if not any(abs(d["start_s"] - on) <= 0.150 and w[1]
                                       for w, (on, _) in zip(truth, spans))]
    minutes = res["duration_s"] / 60
    # no detection where nothing was said (silence, noise floor, noise bursts): every false
    # alarm sits on a non-keyword word, at most one per word; the _unknown_ class rejects
    # most of them (measured: 0 of 6 non-keywords; the 10-class model had no way to)
    for d in false:
        assert any(not kw and abs(d["start_s"] - on) <= 0.150 for _, kw, on, _ in truth), d
    assert len(false) <= 2
    print(f"stream: {found}/{n_kw} keywords found, {correct} read right, "
          f"{len(false) / minutes:.1f} false alarms per minute ({len(false)} on "
          f"{len(others)} non-keywords in {res['duration_s']:.0f} s)")


def test_speech_commands_test_list_and_label_sets(tmp_path, kws_model):
    from test_loaders import make_speech_commands
    root = make_speech_commands(tmp_path / "sc")
    model = neuromem.load_model(kws_model[0])
    # the 12-class task's _silence_ and _unknown_ are classes of this model too
    ev12 = model.evaluate("speech_commands", data_dir=root)
    assert {"yes", "no", "up"} <= set(ev12["per_label"]) <= set(model.labels)
    assert ev12["false_reject"] is not None
    ev = model.evaluate("speech_commands", data_dir=root, data_overrides={"task": "10class"})
    # testing_list.txt holds speaker cccc3333's yes, no and up
    assert ev["n_clips"] == 3 and set(ev["per_label"]) == {"yes", "no", "up"}
    assert sorted(ev["true_labels"]) == sorted(model.labels.index(w) for w in ("yes", "no",
                                                                                "up"))


def test_unknown_words_map_to_an_unknown_class():
    from neuromem.model.evaluate import _match_labels
    labels = ("_silence_", "_unknown_", "yes", "no")
    assert _match_labels(["no", "bed", "yes", "_silence_"], labels).tolist() == [3, 1, 2, 0]
    with pytest.raises(ConfigError, match="does not know: bed"):
        _match_labels(["no", "bed"], ("yes", "no"))


def test_quiet_and_loud_recordings_get_the_same_answer(tmp_path, kws_model):
    """The automatic gain brings a clip's speech to the training level (log-mel features
    are not level-invariant: without it a -50 dBFS clip sinks under the log floor)."""
    model = neuromem.load_model(kws_model[0])
    words = ["yes", "down", "stop", "off"]
    answers = {}
    for db in (-14, -26, -50):
        files = []
        for w in words:
            x = synth(w, "f3") * 10 ** ((db + 26) / 20)
            files.append(_w(tmp_path / f"{w}_{-db}.wav", np.concatenate(
                [np.zeros(3000, np.float32), x, np.zeros(3000, np.float32)])))
        answers[db] = [f["forced_label"] for f in model.predict_files(files)["files"]]
    assert answers[-14] == answers[-26] == answers[-50]
    assert model.kws.level_dbfs == pytest.approx(-26, abs=3)   # the corpus's level_dbfs


def test_export_a_model_as_nir(tmp_path, kws_model, neuromem_cli):
    import nir
    out = neuromem_cli("export", str(kws_model[0]), "-o", str(tmp_path / "kws.nir"))
    assert out.returncode == 0, out.stderr
    graph = nir.read(tmp_path / "kws.nir")
    model = neuromem.load_model(kws_model[0])
    weight = graph.nodes["crossbar"].weight
    layer = model.network.layer
    assert weight.shape in ((layer.n_out, layer.n_in), (layer.n_in, layer.n_out))
    assert set(model.to_nir().nodes) == set(graph.nodes)
