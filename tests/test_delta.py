"""Supervised delta rule: the error of both losses in closed form, and learning a separable
problem in the crossbar (ideal card and a card with discrete levels)."""

import numpy as np
import pytest

from neuromem.cards import resolve_device
from neuromem.layers import CrossbarLayer, Population
from neuromem.network import Network, _delta_error, train_delta
from neuromem.neurons import LIFParams
from neuromem.plasticity import DeltaRuleParams, STDPParams
from neuromem.schema import build


def test_mse_error_is_target_minus_count_over_target():
    rule = build(DeltaRuleParams, {"target_count": 20.0, "off_count": 2.0})
    counts = np.array([[25, 4, 0], [0, 10, 2]])
    err = _delta_error(rule, counts, np.array([0, 1]), np.arange(3))
    expected = np.array([[20 - 25, 2 - 4, 2 - 0], [2 - 0, 20 - 10, 2 - 2]]) / 20.0
    np.testing.assert_allclose(err, expected, rtol=0, atol=1e-15)


def test_softmax_error_is_the_cross_entropy_gradient_over_class_counts_plus_the_floor():
    rule = build(DeltaRuleParams, {"loss": "softmax", "temperature": 5.0,
                                   "target_count": 30.0})
    cls = np.array([0, 0, 1])                 # two neurons for class 0, one for class 1
    counts = np.array([[6, 4, 0],             # class counts (10, 0), label 0
                       [20, 20, 50]])         # class counts (40, 50), label 1
    err = _delta_error(rule, counts, np.array([0, 1]), cls)
    # Sample 0: p = softmax(10/5, 0) = (e^2, 1)/(e^2 + 1); the labelled neurons also get
    # the floor (30 - own count)/30.
    p0 = np.exp(2.0) / (np.exp(2.0) + 1)
    # Sample 1: p = softmax(8, 10); the labelled neuron fires 50 >= 30: no floor.
    p1 = 1 / (1 + np.exp(-2.0))
    expected = np.array([[1 + 24 / 30 - p0, 1 + 26 / 30 - p0, -(1 - p0)],
                         [-(1 - p1), -(1 - p1), 1 - p1]])
    np.testing.assert_allclose(err, expected, rtol=1e-12)


def _separable(rng, n=120, n_in=20):
    """Two classes: each lights a different half of the rows (plus 20 % noise)."""
    labels = np.arange(n) % 2
    rates = rng.uniform(0, 40, (n, n_in))
    rates[labels == 0, : n_in // 2] += 160
    rates[labels == 1, n_in // 2:] += 160
    return rates, labels


@pytest.mark.parametrize("card, loss", [("ideal", "mse"), ("ideal", "softmax"),
                                        ("taox_hfox_wu2018", "softmax")])
def test_delta_rule_learns_a_separable_problem_in_the_crossbar(card, loss):
    rng = np.random.default_rng(3)
    rates, labels = _separable(rng)
    device = resolve_device(card)
    layer = CrossbarLayer(20, 2, device.params, np.random.default_rng(1),
                          mapping="differential", w_max=0.003, init=(-0.05, 0.05))
    neuron = build(LIFParams, {"synapse": "current", "tau_mem_s": 0.02, "tau_exc_s": 0.005,
                               "v_rest_V": -0.065, "v_reset_V": -0.065,
                               "v_thresh_V": -0.055})
    net = Network(layer, Population(2, neuron), STDPParams(rule="none"), dt_s=0.001,
                  t_present_s=0.3, t_rest_s=0.0, seed=np.random.SeedSequence(5))
    before = net.run(rates[:40]).counts
    rule = build(DeltaRuleParams, {"loss": loss, "lr": 2.0, "target_count": 15.0,
                                   "batch": 20, "epochs": 4})
    events = train_delta(net, rates[:80], labels[:80], rule, input_scale=200 * 0.3,
                         order_rng=np.random.default_rng(0))
    after = net.run(rates[80:]).counts
    # Untrained: the random +-5 % weights cannot tell the halves apart.
    assert np.mean(before.argmax(axis=1) == labels[:40]) < 0.8
    # Trained: every held-out sample is classified by its spike counts.
    assert np.all(after.argmax(axis=1) == labels[80:])
    assert events["ltp_pulses"] > 0 and events["ltd_pulses"] > 0
