"""Sensor workloads: send-on-delta counts, series validation, the motion task end to end."""

import sys

import numpy as np
import pytest

from neuromem.data.sensors import check_series, delta_counts
from neuromem.exceptions import DataError

try:
    import sktime  # noqa: F401
    HAVE_SKTIME = True
except ImportError:
    HAVE_SKTIME = False
needs_sktime = pytest.mark.skipif(not HAVE_SKTIME, reason="sktime not installed "
                                  "(pip install 'neuromem[sensors]'): no sensor datasets")


def test_ramp_crosses_one_level_per_threshold():
    # x rises linearly by 1.0 over the series: floor(1.0 / 0.1) = 10 UP crossings, no DOWN;
    # then falls back by 1.0: 10 DOWN crossings.
    up = np.linspace(0.0, 1.0, 51)
    x = np.concatenate([up, up[::-1][1:]])[None, None, :]
    c = delta_counts(x, threshold=0.1 + 1e-12, bins=2)
    assert c.shape == (1, 2, 1, 2)
    assert c[0, 0, 0].tolist() == [9.0, 0.0] and c[0, 1, 0].tolist() == [0.0, 9.0]
    c = delta_counts(x, threshold=0.25, bins=1)
    assert c[0, :, 0, 0].tolist() == [4.0, 4.0]


def test_constant_series_sends_nothing_and_sign_flips_polarity():
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=(3, 2, 200)), axis=2)
    c, c_neg = delta_counts(x, 0.5, 5), delta_counts(-x, 0.5, 5)
    np.testing.assert_array_equal(c[:, 0], c_neg[:, 1])
    np.testing.assert_array_equal(c[:, 1], c_neg[:, 0])
    assert delta_counts(np.ones((1, 3, 50)), 0.1, 4).sum() == 0


def test_bad_series_error_names_file_and_line():
    x = np.zeros((4, 2, 10))
    x[2, 1, 7] = np.nan
    with pytest.raises(DataError, match=r"walk\.ts: line 3: series 2 channel 1 sample 7"):
        check_series(x, file="walk.ts")
    with pytest.raises(DataError, match="expected 6 channels, got 2"):
        check_series(x[:, :, :], file="walk.ts", n_channels=6)
    with pytest.raises(DataError, match=r"\(n, channels, time\)"):
        check_series(np.zeros(5), file="walk.ts")


def test_missing_sktime_is_a_one_line_config_error(monkeypatch):
    from neuromem.data import sensors
    from neuromem.exceptions import ConfigError
    monkeypatch.setitem(sys.modules, "sktime", None)
    with pytest.raises(ConfigError, match=r"pip install 'neuromem\[sensors\]'"):
        sensors.require_sktime()


@needs_sktime
def test_basic_motions_loads_balanced_four_classes():
    from neuromem.data.sensors import load_basic_motions
    data, names = load_basic_motions()
    assert names == ("badminton", "running", "standing", "walking")
    for split in ("train", "test"):
        x, y = data[split]
        assert x.shape == (40, 6, 100)
        assert np.bincount(y).tolist() == [10, 10, 10, 10]


@needs_sktime
def test_motion_quick_learns_and_reports_energy():
    from neuromem.cards import load_network_data
    from neuromem.tasks import get_task
    data, path, dev = load_network_data("motion", {"delta.epochs": 10})
    m = get_task("motion")(data, path=path, device_overrides=dev, seed=0).metrics
    # 4 balanced classes: chance 25 %. Measured 95 % at seed 0 with 10 epochs.
    assert m["accuracy"] >= 0.85 and m["baseline_accuracy"] >= 0.85
    assert m["n_rows"] == 2 * 6 * 10 + 1
    assert m["spiking_energy_per_inference_J"] > 0 and m["mac_energy_per_inference_J"] > 0


@needs_sktime
def test_motion_cli_rejects_unknown_learning(neuromem_cli):
    r = neuromem_cli("run", "motion", "--quick", "--set", "learning=stdp")
    assert r.returncode == 2 and r.stderr.startswith("neuromem: error:")
    assert "learning" in r.stderr
