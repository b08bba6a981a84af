"""Dataset loaders on miniature fixtures in the real formats, and the dataset cards."""

import hashlib
import re

import h5py
import numpy as np
import pytest

from neuromem.cards import list_cards, load_toml
from neuromem.data.audio import FrontEnd, write_wav
from neuromem.data.encoders import encoder_from_mapping, steps_per_frame
from neuromem.data.loaders import (DATASET_KINDS, KEYWORDS, SHD, FolderDataset,
                                   SpeechCommands, open_dataset, which_set)
from neuromem.exceptions import ConfigError, DataError
from neuromem.schema import build

SR = 16000


def tone(f_Hz, duration_s=0.1, sr=SR):
    t = np.arange(int(duration_s * sr)) / sr
    return 0.4 * np.sin(2 * np.pi * f_Hz * t)


# --------------------------------------------------------------------------- which_set

def reference_percentage(speaker: str) -> float:
    """The README's hash, computed here independently of the loader."""
    digest = int(hashlib.sha1(speaker.encode("utf-8")).hexdigest(), 16)
    return (digest % (2 ** 27)) * (100.0 / (2 ** 27 - 1))


@pytest.mark.parametrize("speaker, percentage, expected", [
    ("spk5", 1.080276080073983, "validation"),     # p < 10
    ("b", 15.70121657625747, "testing"),           # 10 <= p < 20
    ("a", 93.2815022266023, "training"),
])
def test_which_set_against_hand_computed_hashes(speaker, percentage, expected):
    assert reference_percentage(speaker) == pytest.approx(percentage, rel=1e-12)
    assert which_set(f"{speaker}_nohash_0.wav") == expected
    # Only the speaker part counts: another clip, another word folder, same split.
    assert which_set(f"some/dir/{speaker}_nohash_7.wav", 10, 10) == expected


def test_which_set_thresholds_move_files_between_splits():
    assert which_set("spk5_nohash_0.wav", 1.0, 10.0) == "testing"      # 1 <= 1.08 < 11
    assert which_set("spk5_nohash_0.wav", 1.0, 0.05) == "training"
    assert which_set("b_nohash_3.wav", 16.0, 10.0) == "validation"


# --------------------------------------------------------------------------- Speech Commands

# speaker -> split in the official lists written below
SPEAKERS = {"aaaa1111": "train", "bbbb2222": "validation", "cccc3333": "test",
            "dddd4444": "train"}
WORDS = ("yes", "no", "up", "bed", "cat")      # three keywords, two unknown words
NOISE_S = 12.0


def make_speech_commands(root, lists=True, noise=True):
    rng = np.random.default_rng(0)
    rel = []
    for w, word in enumerate(WORDS):
        (root / word).mkdir(parents=True)
        for s, speaker in enumerate(SPEAKERS):
            write_wav(root / word / f"{speaker}_nohash_0.wav", tone(200 + 100 * w + 10 * s), SR)
            rel.append(f"{word}/{speaker}_nohash_0.wav")
    write_wav(root / "yes" / "aaaa1111_nohash_1.wav", tone(230), SR)   # a second take
    rel.append("yes/aaaa1111_nohash_1.wav")
    if lists:
        for name, split in (("validation_list.txt", "validation"), ("testing_list.txt", "test")):
            lines = [r for r in rel if SPEAKERS[re.sub(r"_nohash_.*", "", r.split("/")[1])]
                     == split]
            (root / name).write_text("\n".join(lines) + "\n")
    if noise:
        (root / "_background_noise_").mkdir()
        for name in ("white_noise.wav", "running_tap.wav"):
            write_wav(root / "_background_noise_" / name,
                      0.1 * rng.standard_normal(int(NOISE_S * SR)), SR)
        (root / "_background_noise_" / "README.md").write_text("noise files")
    (root / "LICENSE").write_text("CC BY 4.0")
    return root


@pytest.fixture
def speech_commands(tmp_path):
    return make_speech_commands(tmp_path / "speech_commands_v0.02")


def test_official_lists_decide_the_splits(speech_commands):
    ds = SpeechCommands(speech_commands, task="10class").samples
    assert len(ds) == 3 * 4 + 1
    for speaker, split in zip(ds.speakers, ds.splits):
        assert split == SPEAKERS[speaker]


def test_twelve_class_mapping_with_unknown_and_silence(speech_commands):
    sc = SpeechCommands(speech_commands, task="12class")
    ds = sc.samples
    assert sc.label_names == ("_silence_", "_unknown_") + KEYWORDS
    for word, label in zip(ds.words, ds.labels):
        expected = {"yes": 2, "no": 3, "up": 4, "bed": 1, "cat": 1, "_silence_": 0}[word]
        assert label == expected
    # Silence per split = average count of the keywords present (yes, no, up), rounded:
    # train: yes 3 (two takes of aaaa1111 + dddd4444), no 2, up 2 -> 7/3 = 2.33 -> 2;
    # validation and test: 1 each -> 1.
    for split, n_silence in (("train", 2), ("validation", 1), ("test", 1)):
        part = sc.split(split)
        assert part.class_counts()[0] == n_silence
        assert part.class_counts()[1] == 2 * sum(v == split for v in SPEAKERS.values())


def test_silence_slices_stay_in_their_splits_share_of_the_noise(speech_commands):
    ds = SpeechCommands(speech_commands).samples
    n = int(NOISE_S * SR)
    share = {"train": (0, 0.8 * n), "validation": (0.8 * n, 0.9 * n), "test": (0.9 * n, n)}
    silence = np.flatnonzero(ds.labels == 0)
    assert silence.size == 4
    for i in silence:
        lo, hi = share[ds.splits[i]]
        assert lo <= ds.starts[i] and ds.stops[i] <= hi
        assert ds.stops[i] - ds.starts[i] == SR                  # 1 s slices
        x, sr = ds.read(i)
        assert sr == SR and x.shape == (SR,)
    # Silence is not trimmed: its preprocessed window is the raw 1 s slice.
    fe = build(FrontEnd, {"trim_db": 0.01})   # would keep only the loudest frame
    np.testing.assert_array_equal(ds.take(silence[:1]).waveforms(fe)[0], ds.read(silence[0])[0])
    again = SpeechCommands(speech_commands).samples               # same noise_seed
    assert np.array_equal(again.starts, ds.starts)
    other = SpeechCommands(speech_commands, noise_seed=1).samples
    assert not np.array_equal(other.starts[silence], ds.starts[silence])


def test_ten_class_task_keeps_only_keywords(speech_commands):
    sc = SpeechCommands(speech_commands, task="10class")
    assert sc.label_names == KEYWORDS
    assert set(sc.samples.words) == {"yes", "no", "up"}
    assert sc.samples.class_counts()[:3].tolist() == [5, 4, 4]


def test_hash_split_when_the_lists_are_absent(tmp_path):
    root = make_speech_commands(tmp_path / "sc", lists=False)
    ds = SpeechCommands(root, task="10class", validation_pct=30.0, testing_pct=30.0).samples
    expected = {"training": "train", "validation": "validation", "testing": "test"}
    for path, split in zip(ds.paths, ds.splits):
        assert split == expected[which_set(path.name, 30.0, 30.0)]
        p = reference_percentage(path.name.split("_nohash_")[0])
        assert split == ("validation" if p < 30 else "test" if p < 60 else "train")


def test_background_noise_clips(speech_commands):
    clips = SpeechCommands(speech_commands, task="10class").background_noise()
    assert [c[0].name for c in clips] == ["running_tap.wav", "white_noise.wav"]
    assert all(sr == SR and x.shape == (int(NOISE_S * SR),) for _, x, sr in clips)


def test_features_and_waveforms_of_a_split(speech_commands):
    fe = build(FrontEnd, {"n_mels": 16})
    part = SpeechCommands(speech_commands).split("test")
    feats = part.features(fe)
    assert feats.shape == (len(part), 98, 16) and np.all(np.isfinite(feats))
    assert part.waveforms(fe).shape == (len(part), SR)
    small = SpeechCommands(speech_commands).samples.subsample(2, seed=0)
    assert small.class_counts().max() == 2


def test_speech_commands_errors_name_the_file(tmp_path):
    root = make_speech_commands(tmp_path / "a")
    with open(root / "testing_list.txt", "a") as fh:
        fh.write("go/zzzz9999_nohash_0.wav\n")
    with pytest.raises(DataError, match=r"testing_list\.txt, line 6: .*zzzz9999"):
        SpeechCommands(root)

    root = make_speech_commands(tmp_path / "b")
    (root / "validation_list.txt").unlink()
    with pytest.raises(DataError, match="validation_list.txt: missing"):
        SpeechCommands(root)

    root = make_speech_commands(tmp_path / "c")
    (root / "no" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="notes.txt"):
        SpeechCommands(root)

    root = make_speech_commands(tmp_path / "d")
    (root / "wow").mkdir()
    with pytest.raises(DataError, match="wow: empty"):
        SpeechCommands(root)

    root = make_speech_commands(tmp_path / "e", noise=False)
    with pytest.raises(DataError, match="_background_noise_"):
        SpeechCommands(root, task="12class")
    assert len(SpeechCommands(root, task="10class").samples) == 13

    with pytest.raises(DataError, match="not found"):
        SpeechCommands(tmp_path / "nowhere")

    root = make_speech_commands(tmp_path / "f")
    bad = root / "up" / "aaaa1111_nohash_0.wav"
    bad.write_bytes(b"RIFF....not really")
    ds = SpeechCommands(root).samples
    with pytest.raises(DataError, match="aaaa1111_nohash_0.wav"):
        ds.read(ds.paths.index(bad))


# --------------------------------------------------------------------------- folder

def make_folder(root, per_class=10):
    for c, label in enumerate(("beta", "alpha", "gamma")):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            write_wav(root / label / f"take{i:02d}.wav", tone(300 + 50 * c, 0.05, 8000), 8000)
    (root / "README.txt").write_text("ignored: not in a class folder")
    return root


def test_folder_dataset_labels_and_stratified_split(tmp_path):
    root = make_folder(tmp_path / "mine")
    ds = FolderDataset(root, test_fraction=0.2, validation_fraction=0.1, split_seed=3)
    assert ds.label_names == ("alpha", "beta", "gamma")          # sorted folder names
    for label in range(3):
        splits = ds.samples.splits[ds.samples.labels == label]
        # 10 files per class: round(2.0) test, round(1.0) validation, 7 train.
        assert [np.sum(splits == s) for s in ("train", "validation", "test")] == [7, 1, 2]
    again = FolderDataset(root, split_seed=3, test_fraction=0.2, validation_fraction=0.1)
    assert np.array_equal(again.samples.splits, ds.samples.splits)
    other = FolderDataset(root, split_seed=4)
    assert not np.array_equal(other.samples.splits, ds.samples.splits)
    x, sr = ds.split("test").read(0)
    assert sr == 8000 and x.shape == (400,)


def test_folder_dataset_errors(tmp_path):
    root = make_folder(tmp_path / "a")
    (root / "beta" / "take03.mp3").write_bytes(b"ID3")
    with pytest.raises(DataError, match="take03.mp3"):
        FolderDataset(root)
    root = make_folder(tmp_path / "b")
    (root / "delta").mkdir()
    with pytest.raises(DataError, match="delta: empty"):
        FolderDataset(root)
    (tmp_path / "c").mkdir()
    with pytest.raises(DataError, match="no class folders"):
        FolderDataset(tmp_path / "c")
    with pytest.raises(ConfigError):
        FolderDataset(make_folder(tmp_path / "d"), test_fraction=0.6, validation_fraction=0.5)


# --------------------------------------------------------------------------- SHD

KEYS = [b"english-zero", b"english-one", b"german-null"]


def write_shd(path, times, units, labels, speakers, keys=KEYS,
              time_type=np.float16, unit_type=np.uint16):
    """An HDF5 file laid out like shd_train.h5 (vlen times/units, extra/ group)."""
    with h5py.File(path, "w") as fh:
        t = fh.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(time_type))
        u = fh.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(unit_type))
        for i, (ti, ui) in enumerate(zip(times, units)):
            t[i] = np.asarray(ti, dtype=time_type)
            u[i] = np.asarray(ui, dtype=unit_type)
        fh.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))
        fh.create_dataset("extra/speaker", data=np.asarray(speakers, dtype=np.uint16))
        if keys is not None:
            fh.create_dataset("extra/keys", data=np.asarray(keys))
    return path


# Times exactly representable in float16 (multiples of 2**-8 s below 1 s).
SHD_TIMES = [[0.0, 0.0625, 0.0703125, 0.5, 0.9921875, 1.0, 0.5],
             [],
             [0.25, 0.25]]
SHD_UNITS = [[3, 699, 699, 10, 0, 5, 10],
             [],
             [1, 2]]


def test_shd_events_are_quantised_by_hand(tmp_path):
    path = write_shd(tmp_path / "shd_train.h5", SHD_TIMES, SHD_UNITS, [2, 0, 1], [7, 8, 7])
    ds = SHD(path, dt_s=0.0625, t_max_s=1.0).samples
    assert (ds.n_steps, ds.n_channels, len(ds)) == (16, 700, 3)
    # floor(t / 0.0625): 0 -> 0, 0.0625 -> 1, 0.0703 -> 1, 0.5 -> 8 (twice, unit 10: kept
    # once), 0.992 -> 15; t = 1.0 is step 16 = n_steps: dropped.
    assert list(zip(*map(np.ndarray.tolist, ds.events(0)))) == [(0, 3), (1, 699), (8, 10),
                                                                (15, 0)]
    assert ds.events(1)[0].size == 0
    assert list(zip(*map(np.ndarray.tolist, ds.events(2)))) == [(4, 1), (4, 2)]
    assert ds.labels.tolist() == [2, 0, 1] and ds.speakers.tolist() == [7, 8, 7]
    assert ds.label_names == ("english-zero", "english-one", "german-null")
    assert set(ds.splits) == {"train"}
    inputs = ds.spike_input()
    assert inputs.n_samples == 3 and inputs.offsets.tolist() == [0, 4, 4, 6]


def test_shd_pooling_merges_neighbouring_units(tmp_path):
    path = write_shd(tmp_path / "x.h5", SHD_TIMES, SHD_UNITS, [2, 0, 1], [7, 8, 7])
    ds = SHD(path, dt_s=0.0625, t_max_s=1.0, pool_channels=5).samples
    assert ds.n_channels == 140
    # units 1 and 2 at the same step become one event on channel 0.
    assert list(zip(*map(np.ndarray.tolist, ds.events(2)))) == [(4, 0)]
    assert ds.events(0)[1].tolist() == [0, 139, 2, 0]


def test_shd_times_are_floored_without_round_off(tmp_path):
    # 0.003 / 0.001 = 2.9999999999999996 in floating point: still step 3.
    path = write_shd(tmp_path / "y.h5", [[0.003, 0.0029]], [[4, 5]], [0], [1],
                     time_type=np.float64)
    steps, channels = SHD(path, dt_s=0.001).samples.events(0)
    assert steps.tolist() == [2, 3] and channels.tolist() == [5, 4]


def test_shd_folder_reads_train_and_test(tmp_path):
    write_shd(tmp_path / "shd_train.h5", SHD_TIMES, SHD_UNITS, [2, 0, 1], [7, 8, 7])
    write_shd(tmp_path / "shd_test.h5", SHD_TIMES[:1], SHD_UNITS[:1], [1], [9])
    shd = SHD(tmp_path, dt_s=0.0625, t_max_s=1.0)
    assert shd.samples.splits.tolist() == ["train"] * 3 + ["test"]
    test = shd.split("test")
    assert len(test) == 1 and test.labels.tolist() == [1] and test.speakers.tolist() == [9]
    np.testing.assert_array_equal(test.events(0)[0], shd.samples.events(0)[0])
    assert shd.samples.offsets.tolist() == [0, 4, 4, 6, 10]


def test_shd_malformed_files_name_the_file(tmp_path):
    text = tmp_path / "shd_train.h5"
    text.write_text("not hdf5")
    with pytest.raises(DataError, match="shd_train.h5: not a readable HDF5"):
        SHD(text)
    wrong = tmp_path / "wrong.h5"
    with h5py.File(wrong, "w") as fh:
        fh.create_dataset("spikes/times", (1,), dtype=h5py.vlen_dtype(np.float32))
        fh.create_dataset("labels", data=[0])
    with pytest.raises(DataError, match="wrong.h5: missing dataset 'spikes/units'"):
        SHD(wrong)
    flat = tmp_path / "flat.h5"
    with h5py.File(flat, "w") as fh:
        fh.create_dataset("spikes/times", data=np.zeros((2, 3)))
        fh.create_dataset("spikes/units", data=np.zeros((2, 3), np.uint16))
        fh.create_dataset("labels", data=[0, 1])
    with pytest.raises(DataError, match="flat.h5: 'spikes/times' is not a 1-D variable"):
        SHD(flat)
    mismatch = write_shd(tmp_path / "m.h5", [[0.1, 0.2]], [[3]], [0], [0])
    with pytest.raises(DataError, match="m.h5: sample 0 has 2 spike times but 1 units"):
        SHD(mismatch)
    too_high = write_shd(tmp_path / "u.h5", [[0.1]], [[700]], [0], [0])
    with pytest.raises(DataError, match="u.h5: sample 0 has units outside 0..699"):
        SHD(too_high)
    empty = tmp_path / "nothing_here"
    empty.mkdir()
    with pytest.raises(DataError, match=r"nothing_here: no \*_train\.h5"):
        SHD(empty)


# --------------------------------------------------------------------------- cards

def validate_card(path):
    data = load_toml(path)
    assert set(data) <= {"name", "kind", "summary", "source", "parameters"}
    assert data["name"] == path.stem and data["summary"]
    assert set(data["source"]) <= {"citation", "doi", "url", "license", "notes"}
    _, params_cls, audio = DATASET_KINDS[data["kind"]]
    table = dict(data["parameters"])
    if audio:
        fe = build(FrontEnd, table.pop("front_end"), file=path, section="parameters.front_end")
        enc = encoder_from_mapping(table.pop("encoder"), file=path)
        assert steps_per_frame(fe.hop_s, enc.dt_s) >= 1
    return build(params_cls, table, file=path, section="parameters")


def test_dataset_cards_validate():
    cards = list_cards("datasets")
    assert {"speech_commands", "shd", "folder"} <= set(cards)
    for name in ("speech_commands", "shd", "folder"):
        validate_card(cards[name])


def test_open_dataset_with_card_parameters(tmp_path):
    root = make_folder(tmp_path / "mine")
    params = validate_card(list_cards("datasets")["folder"])
    ds = open_dataset("folder", root, params)
    assert isinstance(ds, FolderDataset) and len(ds.samples) == 30
    assert open_dataset("folder", root, {"split_seed": 1}).params.split_seed == 1
    with pytest.raises(ConfigError, match="unknown dataset kind"):
        open_dataset("folders", root)
    with pytest.raises(ConfigError) as err:
        open_dataset("folder", root, {"seed": 1})
    assert err.value.key == "parameters.seed"
