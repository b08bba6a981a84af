"""NeuroBench metrics (neuromem.energy.neurobench) against hand counts (closed forms).

``neurobench`` itself needs torch, torchaudio, snntorch and tonic (pip metadata of
neurobench 2.3.0): not installable within CI's limits, so the definitions are checked by
hand here (they follow neurobench/metrics/*.py of 2.3.0, cited in the module).
"""

import numpy as np
import pytest

from neuromem.cards import load_device
from neuromem.energy.neurobench import input_spike_counts, neurobench_metrics
from neuromem.network import SpikeInput
from neuromem.neurons import LIFParams

DT = 1e-3


@pytest.fixture
def net_of(inference_network):
    """The network of ``weights`` (n_in, n_out) on the ideal card, current LIF neurons."""
    def make(weights, inhibition=0.0, n_steps=50):
        neuron = LIFParams(synapse="current", t_ref_s=0.0, tau_mem_s=0.01, tau_exc_s=0.005,
                           v_thresh_V=-0.060, inhibition=inhibition)
        return inference_network(*weights.shape, neuron, weights=weights, w_max=0.02,
                                 dt_s=DT, t_present_s=n_steps * DT, seed=3)
    return make


def test_hand_counts_on_a_3x2_network(net_of):
    w = np.array([[1.0, 0.5], [0.0, 1.0], [0.7, 0.9]])        # one zero weight (row 1)
    net = net_of(w)
    # channel 0 spikes 4 times, channel 1 twice, channel 2 once
    inp = SpikeInput.from_lists([(np.array([1, 5, 9, 13, 2, 6, 20]),
                                  np.array([0, 0, 0, 0, 1, 1, 2]))])
    run = net.run(inp)
    nb = neurobench_metrics(net, inp, run=run, mac_inputs=np.array([[0.5, 0.0, 1.0]]))
    sp = nb["spiking"]["synaptic_operations"]
    assert sp["Effective_ACs"] == 4 * 2 + 2 * 1 + 1 * 2          # spikes x non-zero fan-out
    assert sp["Effective_MACs"] == 0
    assert sp["Dense"] == 3 * 2 * 50                             # every weight, every step
    assert nb["connection_sparsity"] == 1 / 6
    spikes = int(run.counts.sum())
    assert spikes > 0
    assert nb["spiking"]["activation_sparsity"] == 1 - spikes / (2 * 50)
    mac = nb["mac"]["synaptic_operations"]                       # x = (0.5, 0, 1): rows 0, 2
    assert mac["Effective_MACs"] == 2 + 2 and mac["Dense"] == 6 and mac["Effective_ACs"] == 0
    # footprint: float64 conductance per cell + one shared (fault uint8, g_min, g_max, A_ltp,
    # A_ltd) of the ideal card, gain per column, 14 packed neuron parameters, 5 state arrays
    assert nb["footprint_bytes"] == 8 * 6 + (1 + 4 * 8) + 8 * 2 + 8 * 14 + 5 * 8 * 2


def test_inhibition_counts_as_a_recurrent_layer(net_of):
    w = np.full((4, 3), 0.8)
    net = net_of(w, inhibition=0.001)
    inp = SpikeInput.from_lists([(np.arange(40) % 40, np.arange(40) % 4)])
    run = net.run(inp)
    nb = neurobench_metrics(net, inp, run=run)
    out = int(run.counts.sum())
    assert out > 0
    sp = nb["spiking"]["synaptic_operations"]
    assert sp["Effective_ACs"] == 40 * 3 + out * 2
    assert sp["Dense"] == (4 * 3 + 3 * 2) * 50
    assert nb["connection_sparsity"] == 3 / (12 + 9)             # the zero diagonal


def test_regenerated_poisson_inputs_are_the_engines(net_of):
    w = np.random.default_rng(1).uniform(0.1, 1.0, (16, 5))
    net = net_of(w, n_steps=200)
    rates = np.random.default_rng(2).uniform(0, 200, (7, 16))
    net.run(rates[:2])                                           # sample ids move on
    run = net.run(rates)
    counts = input_spike_counts(net, rates, net.samples_seen - 7)
    assert counts.sum() == run.events["input_spikes"] > 100
    nb = neurobench_metrics(net, rates, run=run)
    assert nb["spiking"]["synaptic_operations"]["Effective_ACs"] == \
        run.events["input_spikes"] * 5 / 7


def test_result_file_metrics_reach_the_energy_report(tmp_path, net_of):
    from neuromem.energy import evaluate_result, format_energy_table
    from neuromem.store import write_result
    from neuromem.tasks.compare import EnergySection, energy_inputs, mac_mode

    w = np.array([[1.0, 0.5], [0.0, 1.0], [0.7, 0.9]])
    net = net_of(w)
    rates = np.full((4, 3), 100.0)
    run = net.run(rates)
    x = rates / 100.0
    _y, counts, xbar = mac_mode(net.layer, x, EnergySection(), np.random.default_rng(0))
    inputs = energy_inputs(layer=net.layer, xbar=xbar, test_events=run.events,
                           mac_counts=counts, n_test=4, dt_s=DT, section=EnergySection(),
                           acc_spiking=0.5, acc_mac=0.5)
    path = tmp_path / "r.h5"
    write_result(path, metrics={"accuracy": 0.5},
                 cards={"device": load_device("ideal").to_dict(),
                        "resolved": {"neuron": {"inhibition": 0.0}}},
                 state={"g_pos_S": net.layer.pos.conductance_S.copy()},
                 extra={"energy_inputs": inputs}, seed=0, command="test")
    ev = evaluate_result(path)
    nb = ev["neurobench"]
    # rows have 2, 1, 2 non-zero weights: the file-level count uses the mean (5/3) per row
    assert not nb["exact"]
    assert np.isclose(nb["spiking"]["synaptic_operations"]["Effective_ACs"],
                      run.events["input_spikes"] * 5 / 3 / 4)
    assert nb["connection_sparsity"] == 1 / 6
    assert "Effective_ACs / inference" in format_energy_table(ev)
