"""Write snntorch_synaptic.nir: the NIR graph snnTorch 1.0's ``export_to_nir`` writes for

    torch.nn.Sequential(torch.nn.Linear(6, 3), snn.Synaptic(alpha=0.9, beta=0.95,
                                                             reset_mechanism="zero"))

(its ``_extract_snntorch_module``: ``dt = 1e-4``, ``tau_syn = dt / (1 - alpha)``,
``tau_mem = dt / (1 - beta)``, ``r = tau_mem / dt``, ``w_in = tau_syn / dt``,
``v_leak = 0``, ``Linear`` with bias -> ``Affine``), plus input spikes and the output spikes
of snnTorch's own discrete update (``syn = alpha syn + x``; ``mem = (beta mem + syn)`` set to
0 in the step after a spike; ``spk = mem > threshold``), re-implemented here in numpy
because torch is not installable within CI's limits. Run: python make_snntorch_fixture.py
"""

from pathlib import Path

import numpy as np

import nir

DT, ALPHA, BETA, THR, STEPS = 1e-4, 0.9, 0.95, 1.0, 400
rng = np.random.default_rng(2024)
w = rng.uniform(-0.1, 0.4, (3, 6))
b = np.array([0.0, 0.01, -0.005])
tau_syn, tau_mem = DT / (1 - ALPHA), DT / (1 - BETA)
ones = np.ones(3)
graph = nir.NIRGraph(
    nodes={"input": nir.Input(input_type={"input": np.array([6])}),
           "0": nir.Affine(weight=w, bias=b),
           "1": nir.CubaLIF(tau_syn=ones * tau_syn, tau_mem=ones * tau_mem, r=ones * tau_mem / DT,
                            v_leak=0 * ones, v_threshold=ones * THR, w_in=ones * tau_syn / DT),
           "output": nir.Output(output_type={"output": np.array([3])})},
    edges=[("input", "0"), ("0", "1"), ("1", "output")])
x = (rng.random((STEPS, 6)) < 0.08).astype(float)
syn, mem, spk = np.zeros(3), np.zeros(3), np.zeros(3)
out = np.zeros((STEPS, 3))
for t in range(STEPS):
    reset = (mem > THR).astype(float)
    syn = ALPHA * syn + (w @ x[t] + b)
    mem = (BETA * mem + syn) * (1 - reset)
    out[t] = mem > THR
here = Path(__file__).parent
nir.write(here / "snntorch_synaptic.nir", graph)
np.savez(here / "snntorch_synaptic_io.npz", input=x, output=out, dt=DT)
print("output spikes per neuron", out.sum(axis=0))
