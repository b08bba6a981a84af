"""``neuromem run``: card resolution, overrides and the JSON contract."""

import json

import pytest

from neuromem.cards import load_network_data, parse_override, resolve_device
from neuromem.exceptions import ConfigError
from neuromem.tasks.digits import build_sections


def test_parse_override_types():
    assert parse_override("network.n_exc=200") == ("network.n_exc", 200)
    assert parse_override("device.g_max_dtod=0.25") == ("device.g_max_dtod", 0.25)
    assert parse_override("device=taox_hfox_wu2018") == ("device", "taox_hfox_wu2018")
    assert parse_override('stdp.rule="pair"') == ("stdp.rule", "pair")
    assert parse_override("data.encoding=on_off") == ("data.encoding", "on_off")
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("network.n_exc")


def test_overrides_reach_the_resolved_sections():
    data, path, dev = load_network_data("digits_stdp", {"network.n_exc": 7,
                                                        "device": "taox_hfox_wu2018",
                                                        "device.g_max_dtod": 0.25})
    net, neuron, stdp, dset = build_sections(data, file=path)
    assert net.n_exc == 7
    card = resolve_device(data["device"], dev)
    assert card.name == "taox_hfox_wu2018" and card.params.g_max_dtod == 0.25
    quick, _, _ = load_network_data("digits_stdp", quick=True)
    assert build_sections(quick)[3].epochs == 1


@pytest.mark.parametrize("override,key", [("network.bogus=1", "network.bogus"),
                                          ("neuron.tau_mem_s=-1", "neuron.tau_mem_s"),
                                          ("stdp.rule=hebb", "stdp.rule"),
                                          ("device.g_maxx_S=1", "device.g_maxx_S"),
                                          ("nosuch.key=1", "nosuch.key")])
def test_bad_overrides_are_config_errors(override, key, neuromem_cli):
    out = neuromem_cli("run", "digits_stdp", "--quick", "--set", override)
    assert out.returncode == 2, out.stderr
    assert key in out.stderr and "Traceback" not in out.stderr


def test_unknown_network_and_device_suggest_the_closest(neuromem_cli):
    out = neuromem_cli("run", "digits_stpd")
    assert out.returncode == 2 and "did you mean 'digits_stdp'" in out.stderr
    out = neuromem_cli("run", "digits_stdp", "--set", "device=taox")
    assert out.returncode == 2 and "did you mean 'taox_hfox_wu2018'" in out.stderr


def test_run_json_contract_and_learning_beats_chance(tmp_path, neuromem_cli):
    out = neuromem_cli("run", "digits_stdp", "--quick", "--set", "data.n_train=300", "--json",
                         "--seed", "1", "-o", str(tmp_path / "run.h5"))
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    for key in ("accuracy", "n_train", "n_test", "wall_s"):
        assert key in res
    assert res["n_train"] == 300 and res["n_test"] == 540
    # 10 balanced classes: chance is 10 %; 300 images of unsupervised learning give > 40 %.
    assert 0.4 < res["accuracy"] <= 1.0
    ev = res["events"]["train"]
    assert ev["ltp_pulses"] > 0 and ev["input_spikes"] == ev["row_activations"]
    from neuromem.store import read_result
    back = read_result(res["result_file"])
    assert back.metrics["accuracy"] == res["accuracy"]
    assert "energy_inputs" in back.extra
    report = tmp_path / "run_report.png"
    assert res["report_figure"] == str(report)
    assert report.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and report.stat().st_size > 20000
