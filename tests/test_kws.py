"""The kws task end to end on small data: synthesized corpus and a user's WAV folder."""

import json
import subprocess
import sys

import numpy as np
import pytest

from neuromem.cards import load_network_data
from neuromem.energy import evaluate_result
from neuromem.store import read_result, write_result
from neuromem.tasks import get_task

pytestmark = pytest.mark.slow

SMALL = {"data.n_clips": 400, "delta.epochs": 3, "features.time_bins": 4,
         "features.t_present_s": 0.3}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("kws_cache"))


def test_kws_learns_and_reports_both_modes(cache, tmp_path):
    data, path, dev = load_network_data("kws", {**SMALL, "data.cache_dir": cache})
    res = get_task("kws")(data, path=path, device_overrides=dev, seed=0)
    m = res.metrics
    # 12 classes (10 keywords, _unknown_, _silence_), about balanced: chance is ~8 %. A few
    # hundred clips of 3 epochs learn far more.
    assert m["n_classes"] == 12 and res.extra["label_names"][-2:] == ["_unknown_", "_silence_"]
    assert m["accuracy"] > 0.3 and m["baseline_accuracy"] > 0.3 and m["mlp_accuracy"] > 0.3
    assert m["accuracy_10"] > 0.3
    assert 0.0 <= m["false_accept"] <= 1.0 and 0.0 <= m["false_reject"] <= 1.0
    assert 0.0 <= m["mac_accuracy"] <= 1.0
    assert m["n_test"] == len(res.state["test_labels"])
    # Every test clip is in the confusion matrix (a last column for silent clips).
    conf = res.state["confusion"]
    assert conf.shape == (m["n_classes"], m["n_classes"] + 1) and conf.sum() == m["n_test"]
    assert np.trace(conf) == round(m["accuracy"] * m["n_test"])
    assert conf[:, -1].sum() == round(m["silent_test_fraction"] * m["n_test"])
    assert m["spiking_energy_per_inference_J"] > 0 and m["mac_energy_per_inference_J"] > 0
    ev = res.events["test"]
    assert ev["input_spikes"] == ev["row_activations"]
    assert ev["cells_read"] == ev["row_activations"] * 2 * m["n_classes"] * 3
    assert res.events["train"]["ltp_pulses"] > 0
    out = write_result(tmp_path / "kws.h5", metrics=res.metrics, cards=res.cards,
                       events=res.events, state=res.state, seed=0, extra=res.extra)
    evaluation = evaluate_result(out, "isaac_32nm")
    assert evaluation["spiking"]["energy_per_inference_J"] == pytest.approx(
        m["spiking_energy_per_inference_J"], rel=1e-9)
    back = read_result(out)
    assert np.array_equal(back.state["confusion"], res.state["confusion"])


def test_kws_same_seed_same_result(cache):
    data, path, dev = load_network_data("kws", {**SMALL, "data.cache_dir": cache,
                                                "delta.epochs": 1})
    a = get_task("kws")(data, path=path, device_overrides=dev, seed=3)
    b = get_task("kws")(data, path=path, device_overrides=dev, seed=3)
    assert a.metrics["accuracy"] == b.metrics["accuracy"]
    assert np.array_equal(a.state["g_pos_S"], b.state["g_pos_S"])


def test_kws_on_a_folder_of_wav_files(tmp_path):
    from neuromem.data.audio import write_wav
    from neuromem.data.synth import synthesize

    root = tmp_path / "mydata"
    voices = ["m1", "m3", "f1", "f2", "m7", "f4"]
    for word in ("yes", "no", "stop"):
        (root / word).mkdir(parents=True)
        for k, variant in enumerate(voices):
            x, sr = synthesize(word, variant=variant, rate_wpm=150 + 10 * k)
            write_wav(root / word / f"{variant}_{k}.wav", x, sr)
    out = subprocess.run([sys.executable, "-m", "neuromem", "run", "kws", "--dataset",
                          "folder", "--data-dir", str(root), "--set", "delta.epochs=2",
                          "--set", "features.time_bins=4", "--json"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["n_classes"] == 3 and 0.0 <= res["accuracy"] <= 1.0
    assert "baseline_accuracy" in res and "wall_s" in res
