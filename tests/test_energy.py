"""Energy model: presets and their validation, hand-counted cases, published figures, the CLI.

Published figures reproduced here (each cited beside its test):

* ISAAC (Shafiee et al., ISCA 2016, Table 2): per IMA, 8 ADCs (8 bit, 1.2 GS/s) draw 16 mW
  and 8 x 128 1-bit DACs 4 mW; a tile (12 IMAs + shared units) draws 330 mW, so its ADCs
  take 12 x 16 / 330 = 58 % of it.
* NeuroSim (Param.cpp defaults, as in REFERENCE.md): a cell read at 0.5 V for 10 ns costs
  417 fJ at 6 kOhm and 2.8 fJ at 900 kOhm.
"""

import copy
import hashlib
import importlib.util
import json
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

from neuromem.cards import load_device
from neuromem.cli import main
from neuromem.crossbar import Crossbar, CrossbarConfig
from neuromem.energy import (ConductanceStats, conductance_stats, conductance_stats_of,
                             drive_v2_fraction, evaluate_result, list_techs, load_tech,
                             mac_counts, mac_energy, spiking_energy, spiking_events,
                             tech_from_mapping, uniform_drive_v2_fraction)
from neuromem.exceptions import ConfigError
from neuromem.store import read_result, write_result

ROOT = Path(__file__).resolve().parents[1]
ISAAC_TOML = ROOT / "neuromem" / "tech" / "isaac_32nm.toml"

EVENTS_3x2 = {"input_spikes": 4, "row_activations": 4, "cells_read": 12, "ltp_pulses": 0,
              "ltd_pulses": 0, "cells_written": 0, "neuron_updates": 10, "output_spikes": 0,
              "inhibition_events": 0, "steps": 5}


@pytest.fixture(scope="module")
def ideal():
    return load_device("ideal")


@pytest.fixture(scope="module")
def isaac():
    return load_tech("isaac_32nm")


def _isaac_data():
    with open(ISAAC_TOML, "rb") as fh:
        return tomllib.load(fh)


# ---------------------------------------------------------------------------------- presets

def test_builtin_presets_load_and_every_constant_has_a_source():
    names = set(list_techs())
    assert {"isaac_32nm", "neurram_130nm", "spikesim_65nm"} <= names
    for name in names:
        tech = load_tech(name)
        assert tech.name == name and tech.source.get("citation")
        constants = tech.constants()
        assert len(constants) >= 12
        for key, c in constants.items():
            assert isinstance(c["source"], str) and len(c["source"]) > 20, (name, key)


def test_isaac_constants_are_the_published_ones(isaac):
    # ISAAC via Accelergy's isaac models (REFERENCE.md "Energy constants")
    table = {4: 0.79e-12, 5: 0.99e-12, 6: 1.20e-12, 7: 1.42e-12, 8: 1.67e-12, 10: 2.379e-12}
    for bits, energy in table.items():
        assert isaac.mac.adc_J.at(bits) == pytest.approx(energy, rel=1e-3)
    assert isaac.mac.dac_J.at(1) == pytest.approx(0.417e-12, rel=1e-3)
    assert isaac.buffer_bit_J.value * 256 == pytest.approx(20.45e-12)
    assert isaac.mac.shift_add_J.value == pytest.approx(0.021e-12)
    spikesim = load_tech("spikesim_65nm")      # Moitra et al. 2023, per PE cycle of 64
    assert spikesim.spiking.neuron_update_J.value * 64 == pytest.approx(5.1e-12)
    assert spikesim.spiking.adc_J.value * 64 == pytest.approx(2.03e-12)
    assert spikesim.spiking.row_driver_J.value * 64 == pytest.approx(1.76e-12)
    neurram = load_tech("neurram_130nm")       # Wan et al., Nature 2022
    assert neurram.mac.adc_J.at(8) == pytest.approx(0.3e-12)
    assert neurram.mac.column_sense_J.value == pytest.approx(0.25e-12)
    assert neurram.mac.shift_add_J.value == pytest.approx(0.1e-12)


def test_bit_table_interpolates_log_linearly_and_extrapolates_at_the_end_ratio(isaac):
    adc = isaac.mac.adc_J
    assert adc.at(9) == pytest.approx(1.969e-12)
    tab = tech_from_mapping(_with(_isaac_data(), ("mac", "adc_J"), {
        "bits": [4, 8], "value": [1e-12, 16e-12], "source": "test table"})).mac.adc_J
    assert tab.at(6) == pytest.approx(4e-12)                 # geometric midpoint
    assert tab.at(10) == pytest.approx(64e-12)               # 2x per bit beyond the end
    assert tab.at(2) == pytest.approx(0.25e-12)
    one = tech_from_mapping(_with(_isaac_data(), ("mac", "adc_J"), {
        "bits": [8], "value": [1e-12], "per_bit_ratio": 1.5, "source": "x"})).mac.adc_J
    assert one.at(10) == pytest.approx(2.25e-12)
    with pytest.raises(ConfigError, match="bits"):
        adc.at(0)


def _with(data, path, value):
    data = copy.deepcopy(data)
    node = data
    for part in path[:-1]:
        node = node[part]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@pytest.mark.parametrize("path,value,key,message", [
    (("mac", "adc_jj"), {"value": 1.0, "source": "x"}, "mac.adc_jj", "did you mean 'adc_J'"),
    (("spiking", "spike_J"), {"value": 4e-15}, "spiking.spike_J.source", "source"),
    (("spiking", "spike_J"), {"value": -4e-15, "source": "x"}, "spiking.spike_J.value",
     ">= 0"),
    (("spiking", "spike_J"), 4e-15, "spiking.spike_J", "inline table"),
    (("spiking", "row_driver_J"), None, "spiking.row_driver_J", "missing"),
    (("spiking", "neuron"), "analogue", "spiking.neuron", "did you mean 'analog'"),
    (("spiking", "neuron"), "digital", "spiking.adc_J", "digital neuron"),
    (("mac", "adc_J"), {"bits": [8, 4], "value": [1e-12, 2e-12], "source": "x"},
     "mac.adc_J.bits", "increase"),
    (("mac", "adc_J"), {"bits": [8], "value": [1e-12], "source": "x"},
     "mac.adc_J.per_bit_ratio", "per_bit_ratio"),
    (("mac", "adc_J"), {"bits": [4, 8], "value": [1e-12], "source": "x"}, "mac.adc_J.value",
     "2 energies"),
    (("spiking", "event_bits"), {"value": 16.5, "source": "x"}, "spiking.event_bits.value",
     "whole"),
    (("buffer", "bit_J"), {"value": 1e-12, "per": 0, "source": "x"}, "buffer.bit_J.per", "> 0"),
    (("bogus",), 1, "bogus", "unknown key"),
    (("mac",), None, "mac", "missing the [mac] table"),
])
def test_preset_validation_names_file_and_key(path, value, key, message):
    with pytest.raises(ConfigError) as err:
        tech_from_mapping(_with(_isaac_data(), path, value), file="my_tech.toml")
    assert err.value.key == key and err.value.file == "my_tech.toml"
    assert message in str(err.value) and "my_tech.toml" in str(err.value)


def test_preset_files_and_names(tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text("name = 'x'\n[spiking\n")
    with pytest.raises(ConfigError, match="not valid TOML") as err:
        load_tech(bad)
    assert err.value.file == str(bad)
    with pytest.raises(ConfigError, match="did you mean 'isaac_32nm'"):
        load_tech("isaac")
    with pytest.raises(ConfigError, match="not found"):
        load_tech(tmp_path / "missing.toml")
    mine = tmp_path / "mine.toml"
    mine.write_text(ISAAC_TOML.read_text().replace('name = "isaac_32nm"', 'name = "mine"'))
    assert load_tech(mine).name == "mine"


# ------------------------------------------------------------------- hand-counted: spiking

def test_hand_counted_run_3_inputs_2_neurons_4_spikes(ideal, isaac):
    """3 inputs, 2 neurons, 4 input spikes in 5 steps: events and energy by hand."""
    from neuromem.layers import CrossbarLayer, Population
    from neuromem.network import Network, SpikeInput
    from neuromem.neurons import LIFParams
    from neuromem.plasticity import STDPParams

    layer = CrossbarLayer(3, 2, ideal.params, np.random.default_rng(0), mapping="single",
                          w_max=1e-3)                    # too weak to make a neuron fire
    layer.set_weights(np.array([[0.2, 0.4], [0.6, 0.8], [1.0, 0.0]]))
    net = Network(layer, Population(2, LIFParams()), STDPParams(rule="none"), dt_s=1e-3,
                  t_present_s=5e-3, t_rest_s=0.0)
    # (step, input): (0, 0), (1, 2), (1, 1), (3, 0) -> rows 0, 1, 2 activated 2, 1, 1 times.
    # learn=True with rule "none" changes nothing and counts like inference, on the
    # sequential kernel (no compile of the parallel one for a single sample)
    res = net.run(SpikeInput.from_lists([([0, 1, 1, 3], [0, 2, 1, 0])]), learn=True)
    assert res.events == EVENTS_3x2          # 4 rows x (2 cells + 1 reference) = 12 reads
    expected, _ = spiking_events(3, 2, spikes_per_input=4 / 3, steps=5)
    for key in ("input_spikes", "row_activations", "cells_read", "neuron_updates", "steps"):
        assert expected[key] == pytest.approx(res.events[key])

    # ideal card: g_min 0 (reference cell 0 S), g_max 10 uS, read 0.5 V for 10 ns
    stats = conductance_stats_of(layer, row_activations=[2, 1, 1])
    rep = spiking_energy(res.events, stats, ideal, isaac, n_inferences=1, dt_s=1e-3)
    g_read_uS = 2 * (2 + 4 + 0) + 1 * (6 + 8 + 0) + 1 * (10 + 0 + 0)   # 36 uS over 12 reads
    assert rep.breakdown_J["cell_reads"] == pytest.approx(0.5 ** 2 * g_read_uS * 1e-6 * 10e-9,
                                                          rel=1e-12)
    assert rep.breakdown_J["row_drivers"] == pytest.approx(4 * 0.41667e-12, rel=1e-12)
    assert rep.breakdown_J["spike_routing"] == pytest.approx(4 * 16 * 20.45e-12 / 256,
                                                             rel=1e-12)
    assert rep.breakdown_J["neurons"] == 0.0 and rep.breakdown_J["spikes"] == 0.0
    assert rep.breakdown_J["writes"] == 0.0 and rep.breakdown_J["inhibition"] == 0.0
    assert rep.total_J == pytest.approx(sum(rep.breakdown_J.values()))
    assert rep.latency_s == pytest.approx(5e-3)                   # 5 steps x 1 ms
    assert rep.details["latency_accelerated_s"] == pytest.approx(5 * 100e-9)
    # without per-row counts: the mean over all rows (30 uS / 9 cells) for each of 12 reads
    flat = spiking_energy(res.events, conductance_stats_of(layer), ideal, isaac,
                          n_inferences=1)
    assert flat.breakdown_J["cell_reads"] == pytest.approx(12 * 0.25 * (30e-6 / 9) * 10e-9)


def test_spiking_components_by_hand(ideal, isaac):
    events = dict(EVENTS_3x2, output_spikes=3, inhibition_events=3, ltp_pulses=10,
                  ltd_pulses=4, cells_written=6)
    dev = ideal.params.with_updates(v_ltp_V=1.2, t_ltp_s=50e-9, v_ltd_V=-1.0, t_ltd_s=20e-9)
    g = ConductanceStats(4e-6, mean_write_S=5e-6, mapping="single")
    rep = spiking_energy(events, g, dev, isaac, n_inferences=2)
    b = rep.breakdown_J
    assert b["spikes"] == pytest.approx(3 * 4e-15 / 2)
    assert b["inhibition"] == pytest.approx(3 * (2 - 1) * 4e-15 / 2)   # n_out = 10 / 5 = 2
    e_ltp, e_ltd = 1.2 ** 2 * 5e-6 * 50e-9, 1.0 ** 2 * 5e-6 * 20e-9
    assert b["writes"] == pytest.approx((10 * e_ltp + 4 * e_ltd) / 2)
    assert b["spike_routing"] == pytest.approx((4 + 3) * 16 * 20.45e-12 / 256 / 2)
    diff = spiking_energy(events, ConductanceStats(4e-6, 5e-6, "differential"), dev, isaac,
                          n_inferences=2)
    assert diff.breakdown_J["writes"] == pytest.approx(14 * 0.5 * (e_ltp + e_ltd) / 2)
    assert rep.counts["input_spikes"] == 2.0 and rep.n_inferences == 2
    with pytest.raises(ConfigError, match="multiple of steps"):
        spiking_energy(dict(EVENTS_3x2, neuron_updates=11), g, dev, isaac, n_inferences=1)
    with pytest.raises(ConfigError) as err:
        spiking_energy({k: v for k, v in EVENTS_3x2.items() if k != "steps"}, g, dev, isaac,
                       n_inferences=1)
    assert err.value.key == "events.steps"
    with pytest.raises(ConfigError, match="n_inferences"):
        spiking_energy(EVENTS_3x2, g, dev, isaac, n_inferences=0)


def test_digital_neuron_converts_each_row_tile_in_active_steps(ideal):
    tech = load_tech("spikesim_65nm")
    rep = spiking_energy(EVENTS_3x2, 4e-6, ideal, tech, n_inferences=1, n_in=130,
                         active_steps=3)
    # 130 rows = 3 row tiles of 64; 3 active steps x 2 neurons x 3 tiles conversions
    assert rep.breakdown_J["neuron_adc"] == pytest.approx(3 * 2 * 3 * 2.03e-12 / 64)
    assert rep.breakdown_J["partial_sums"] == pytest.approx(3 * 2 * 2 * 0.1e-12)
    assert rep.breakdown_J["neurons"] == pytest.approx(10 * 5.1e-12 / 64)
    assert rep.assumptions == ()
    bound = spiking_energy(EVENTS_3x2, 4e-6, ideal, tech, n_inferences=1, n_in=130)
    assert bound.counts["neuron_adc_conversions"] == 4 * 2 * 3   # min(steps 5, spikes 4)
    assert "upper bound" in bound.assumptions[0]
    with pytest.raises(ConfigError, match="n_in"):
        spiking_energy(EVENTS_3x2, 4e-6, ideal, tech, n_inferences=1)
    assert spiking_energy(EVENTS_3x2, 4e-6, ideal, "neurram_130nm",
                          n_inferences=1).latency_s is None   # no dt_s, no step time


# ------------------------------------------------------------------------ published figures

def test_isaac_tile_adc_power_reproduces_the_published_table(ideal, isaac):
    """ISAAC (Shafiee et al., ISCA 2016, Table 2): IMA ADCs 16 mW, DACs 4 mW; tile 330 mW,
    ADCs 12 x 16 / 330 = 58 % of it. One IMA = 8 crossbars of 128 x 128 (a 128 x 1024
    matrix in 128 x 128 tiles), each ADC converting the 128 columns of one crossbar in a
    read cycle; all 128 rows driven with 1-bit inputs."""
    cfg = CrossbarConfig(mapping="offset", offset_reference="min", tile_rows=128,
                         tile_cols=128, dac_bits=1, dac_mode="bit_serial", adc_bits=8,
                         adc_share=128)
    rng = np.random.default_rng(1)
    xbar = Crossbar.from_weights(rng.uniform(0, 1, (128, 1024)), ideal, cfg, rng)
    _, counts = xbar.mac(np.ones(128))
    assert counts["dac_drives"] == 8 * 128 and counts["adc_conversions"] == 8 * 128
    rep = mac_energy(counts, isaac, dac_bits=1, adc_bits=8, n_in=128, n_out=1024,
                     device=ideal, conductance=conductance_stats_of(xbar), adc_share=128)
    cycle_s = rep.latency_s                       # max(100 ns read, 128 / 1.2 GS/s)
    assert cycle_s == pytest.approx(128 / 1.2e9)
    adc_W = rep.breakdown_J["adc"] / cycle_s
    dac_W = rep.breakdown_J["dac"] / cycle_s
    assert adc_W == pytest.approx(16e-3, rel=0.10)            # published: 16 mW per IMA
    assert dac_W == pytest.approx(4e-3, rel=0.10)             # published: 4 mW per IMA
    assert 12 * adc_W / 330e-3 == pytest.approx(0.58, rel=0.10)   # published tile: 330 mW


@pytest.mark.parametrize("r_ohm,published_J", [(6e3, 417e-15), (900e3, 2.8e-15)])
def test_cell_read_energy_reproduces_neurosim(isaac, r_ohm, published_J):
    """NeuroSim Param.cpp defaults (REFERENCE.md): V^2 G t at 0.5 V, 10 ns."""
    card = {"name": "r", "kind": "pulse", "parameters": {
        "g_min_S": 1e-7, "g_max_S": 1e-3, "levels": 2, "v_read_V": 0.5, "t_read_s": 10e-9}}
    one = {"input_spikes": 1, "row_activations": 1, "cells_read": 1, "neuron_updates": 1,
           "output_spikes": 0, "steps": 1}
    rep = spiking_energy(one, 1.0 / r_ohm, card, isaac, n_inferences=1)
    assert rep.breakdown_J["cell_reads"] == pytest.approx(published_J, rel=0.02)


# -------------------------------------------------------------------------------- MAC mode

def test_mac_energy_by_hand_and_synthetic_counts_match_crossbar(ideal, isaac):
    cfg = CrossbarConfig(mapping="differential", tile_rows=128, tile_cols=128, dac_bits=4,
                         dac_mode="bit_serial", adc_bits=6)
    rng = np.random.default_rng(3)
    xbar = Crossbar.from_weights(rng.uniform(-1, 1, (300, 200)), ideal, cfg, rng)
    _, counts = xbar.mac(np.ones(300))              # every code 15: all 4 bits set
    assert counts == pytest.approx(mac_counts(300, 200, cfg, bit_density=1.0))
    multi = CrossbarConfig(mapping="offset", tile_rows=128, tile_cols=128, dac_bits=4,
                           dac_mode="multibit", adc_bits=6)
    xm = Crossbar.from_weights(rng.uniform(-1, 1, (300, 200)), ideal, multi, rng)
    x = np.tile([0.0, 1.0], 150)                    # half the inputs zero, every tile driven
    _, cm = xm.mac(x)
    assert cm == pytest.approx(mac_counts(300, 200, multi, input_density=0.5))

    stats = conductance_stats_of(xbar)
    g_all = np.concatenate([a.ravel() for a in xbar.conductances()])
    assert stats.mean_read_S == pytest.approx(g_all.mean())
    rep = mac_energy(counts, isaac, dac_bits=4, adc_bits=6, n_in=300, n_out=200,
                     device=ideal, conductance=stats, n_inferences=1, adc_share=8)
    b = rep.breakdown_J
    # 4 cycles x 300 rows x 2 column tiles drives; 4 x 3 row tiles x 200 conversions
    assert b["dac"] == pytest.approx(2400 * 0.41667e-12)
    assert b["adc"] == pytest.approx(2400 * 1.20e-12)
    assert b["cell_reads"] == pytest.approx(4 * 300 * 400 * 0.25 * stats.mean_read_S * 10e-9)
    assert b["shift_add"] == pytest.approx((4 * 3 - 1) * 200 * 0.021e-12)
    assert b["buffer"] == pytest.approx((300 * 5 + 200 * 16) * 20.45e-12 / 256)
    assert b["activation"] == pytest.approx(200 * 0.1e-12)
    assert rep.latency_s == pytest.approx(4 * 100e-9)           # 8 / 1.2 GS/s < 100 ns

    rm = mac_energy(cm, isaac, dac_bits=4, adc_bits=6, n_in=300, n_out=200, device=ideal,
                    conductance=conductance_stats_of(xm), dac_mode="multibit",
                    drive_v2_fraction=drive_v2_fraction(x, 4))
    assert rm.breakdown_J["dac"] == pytest.approx(150 * 2 * 0.41667e-12 * 2 ** 3)
    assert rm.details["drive_v2_fraction"] == 1.0 and rm.assumptions == ()
    default = mac_energy(cm, isaac, dac_bits=4, adc_bits=6, n_in=300, n_out=200,
                         device=ideal, conductance=1e-6, dac_mode="multibit")
    assert default.details["drive_v2_fraction"] == pytest.approx(uniform_drive_v2_fraction(4))
    assert default.assumptions
    with pytest.raises(ConfigError, match="ideal converter"):
        mac_energy(counts, isaac, dac_bits=4, adc_bits=None, n_in=300, n_out=200,
                   device=ideal, conductance=1e-6)


def test_conductance_stats_count_cells_like_the_engine():
    g = np.array([[1.0, 2.0], [3.0, 4.0]]) * 1e-6
    single = conductance_stats(g, g_ref_S=0.5e-6)
    assert single.mean_read_S == pytest.approx((10 + 1.0) / 6 * 1e-6)   # 2 + 1 cells/row
    assert single.mean_write_S == pytest.approx(2.5e-6)
    diff = conductance_stats(g, g[::-1], row_activations=[3, 1])
    assert diff.mapping == "differential" and diff.cells_per_row == 4
    assert diff.read_S() == pytest.approx((3 * 10 + 1 * 10) / (4 * 4) * 1e-6)
    back = ConductanceStats.from_dict(json.loads(json.dumps(diff.to_dict())))
    assert back.read_S() == pytest.approx(diff.read_S())
    with pytest.raises(ConfigError, match="g_ref_S"):
        conductance_stats(g)


# ------------------------------------------------------------------------------------- CLI

def _result_file(path, ideal, *, inputs=True, **overrides):
    mac_c = mac_counts(3, 2, CrossbarConfig(dac_bits=4, adc_bits=6), bit_density=0.5)
    energy_inputs = {
        "spiking": {"events": EVENTS_3x2, "n_inferences": 1, "dt_s": 1e-3},
        "mac": {"counts": mac_c, "n_inferences": 1, "dac_bits": 4, "adc_bits": 6, "n_in": 3,
                "n_out": 2, "conductance": {"mean_read_S": 3e-6}},
        "accuracy": {"spiking": 0.75, "mac": 0.5}}
    for key, value in overrides.items():
        energy_inputs[key] = value
    write_result(path, metrics={"accuracy": 0.75, "n_test": 1}, cards={"device": ideal.to_dict()},
                 events={"test": EVENTS_3x2},
                 state={"g_pos_S": np.array([[2e-6, 4e-6], [6e-6, 8e-6], [1e-5, 0.0]])},
                 raster=[np.array([[0, 1], [3, 0]])], seed=7, command="neuromem run x",
                 extra={"energy_inputs": energy_inputs, "note": "kept"} if inputs else None)
    return path


def test_cli_energy_prints_stores_and_preserves(tmp_path, capsys, ideal):
    path = _result_file(tmp_path / "run.h5", ideal)
    before = read_result(path)
    assert main(["energy", str(path)]) == 0
    out = capsys.readouterr().out
    assert "energy ratio spiking / MAC" in out and "row_drivers" in out and "adc" in out
    assert "75.00 %" in out and "stored  metrics/energy/isaac_32nm" in out
    after = read_result(path)
    assert after.provenance == before.provenance          # the run's provenance, untouched
    assert after.cards == before.cards and after.events == before.events
    assert after.extra == before.extra
    assert np.array_equal(after.state["g_pos_S"], before.state["g_pos_S"])
    assert np.array_equal(after.raster[0], before.raster[0])
    stored = after.metrics["energy"]["isaac_32nm"]
    expected = evaluate_result(before, "isaac_32nm")
    assert stored["spiking"]["energy_per_inference_J"] == pytest.approx(
        expected["spiking"]["energy_per_inference_J"], rel=1e-12)
    assert stored["ratio_spiking_over_mac"] == pytest.approx(expected["ratio_spiking_over_mac"])
    # spiking state defaulted from state/g_pos_S and a reference cell at g_min (0 S)
    assert stored["spiking"]["details"]["read_conductance_S"] == pytest.approx(30e-6 / 9)
    assert "state/g_pos_S" in stored["spiking"]["assumptions"]
    assert after.metrics["accuracy"] == 0.75

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert main(["energy", str(path), "--json", "--no-store", "--tech", "neurram_130nm"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert data["tech"] == "neurram_130nm" and data["stored"] is None
    for mode, acc in (("spiking", 0.75), ("mac", 0.5)):
        assert {"accuracy", "energy_per_inference_J", "breakdown_J", "latency_s"} <= \
            set(data[mode])
        assert data[mode]["accuracy"] == acc
        assert data[mode]["energy_per_inference_J"] == pytest.approx(
            sum(data[mode]["breakdown_J"].values()))
    assert data["ratio_spiking_over_mac"] == pytest.approx(
        data["spiking"]["energy_per_inference_J"] / data["mac"]["energy_per_inference_J"])

    mine = tmp_path / "mine.toml"
    mine.write_text(ISAAC_TOML.read_text().replace('name = "isaac_32nm"', 'name = "mine"'))
    assert main(["energy", str(path), "--tech", str(mine)]) == 0
    capsys.readouterr()
    assert set(read_result(path).metrics["energy"]) == {"isaac_32nm", "mine"}


def test_cli_energy_errors_are_one_line(tmp_path, capsys, ideal):
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    assert main(["energy", str(text)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a readable HDF5" in err

    bare = _result_file(tmp_path / "bare.h5", ideal, inputs=False)
    assert main(["energy", str(bare)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no energy inputs" in err

    bad = _result_file(tmp_path / "bad.h5", ideal, spiking={"events": EVENTS_3x2})
    assert main(["energy", str(bad), "--no-store"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "energy_inputs.spiking.n_inferences" in err

    wrong = _result_file(tmp_path / "wrong.h5", ideal,
                         spiking={"events": dict(EVENTS_3x2, spikes=1), "n_inferences": 1})
    assert main(["energy", str(wrong), "--no-store"]) == 1
    assert "events.spikes" in capsys.readouterr().err

    good = _result_file(tmp_path / "good.h5", ideal)
    assert main(["energy", str(good), "--tech", "isac_32nm"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'isaac_32nm'" in err


# ------------------------------------------------------------------ figures and benchmark

def test_energy_figures(tmp_path, ideal):
    from neuromem.plot.energy import (plot_accuracy_vs_energy, plot_breakeven,
                                      plot_energy_breakdown)

    path = _result_file(tmp_path / "run.h5", ideal)
    ev = evaluate_result(path, "isaac_32nm")
    fig = plot_energy_breakdown(ev)
    ax = fig.axes[0]
    assert len(ax.get_xticks()) == 2
    heights = {}
    for patch in ax.patches:
        x = round(patch.get_x() + patch.get_width() / 2)
        heights[x] = heights.get(x, 0.0) + patch.get_height()
    assert heights[0] / heights[1] == pytest.approx(ev["ratio_spiking_over_mac"], rel=1e-6)
    fig.savefig(tmp_path / "bars.png")
    fig = plot_accuracy_vs_energy([dict(ev, label="run")])
    assert len(fig.axes[0].lines) == 3                  # the join and one marker per mode
    fig = plot_breakeven([{"label": "a", "x": [0.01, 1, 10], "ratio": [0.1, 1.0, 10.0],
                           "breakeven_x": 1.0}], reference=(0.15, 1.38, "published"))
    fig.savefig(tmp_path / "breakeven.png")


def test_breakeven_script_small_run(tmp_path):
    spec = importlib.util.spec_from_file_location("breakeven",
                                                  ROOT / "benchmarks" / "breakeven.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out, png = tmp_path / "be.json", tmp_path / "be.png"
    assert mod.main(["--layers", "784x100", "--steps", "16,64", "--adc-bits", "8",
                     "--points", "12", "--json", str(out), "--png", str(png)]) == 0
    data = json.loads(out.read_text())
    assert png.stat().st_size > 10_000
    assert len(data["rows"]) == 3 * 2 and len(data["curves"]) == 3
    device = load_device("taox_hfox_wu2018")
    for row in data["rows"]:
        tech = load_tech(row["tech"])
        lay = mod.Layer(784, 100, tech, device, 0.5, row["steps"], 8, row["dac_bits"])
        assert row["mac_energy_J"] == pytest.approx(lay.mac.energy_per_inference_J)
        if row["verdict"] == "crosses":
            s = row["breakeven_spikes_per_synapse"]
            assert lay.ratio(s) == pytest.approx(1.0, rel=1e-6)
            assert lay.ratio(0.5 * s) < 1 < lay.ratio(2 * s)
    isaac = {r["steps"]: r for r in data["rows"] if r["tech"] == "isaac_32nm"}
    assert isaac[64]["verdict"] == "crosses" and isaac[64]["breakeven_spikes_per_synapse"] > 1
    assert not math.isnan(isaac[16]["ratio_at_1"])
