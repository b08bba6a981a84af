"""NIR graph -> engine network on a device card (see :mod:`neuromem.nir` for the maths)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

import nir

from neuromem.exceptions import ConfigError
from neuromem.network import Network, SpikeInput
from neuromem.model.state import program_weights, restore_cells
from neuromem.nir.export import SPIKE_CONVENTIONS, _area, charge_factor

__all__ = ["NIRNetwork", "from_nir", "read_graph", "SUPPORTED_NODES"]

SUPPORTED_NODES = ("Input", "Output", "Affine", "Linear", "Scale", "Delay", "LIF", "CubaLIF",
                   "IF")
_NON_SPIKING = ("LI", "CubaLI", "I")
_NEURONS = ("LIF", "CubaLIF", "IF")


def read_graph(graph_or_path):
    """``(graph, source)``: a :class:`nir.NIRGraph` as given or read with :func:`nir.read`."""
    if isinstance(graph_or_path, nir.NIRGraph):
        return graph_or_path, "<NIR graph>"
    path = Path(graph_or_path)
    if not path.is_file():
        raise ConfigError("no such NIR file", file=path)
    try:
        return nir.read(path), str(path)
    except Exception as exc:  # h5py/nir raise many kinds; one line naming the file
        raise ConfigError(f"not a readable NIR graph: {type(exc).__name__}: {exc}",
                          file=path) from None


class NIRNetwork(Network):
    """An engine :class:`Network` imported from NIR.

    Inputs are given for the graph's ``n_inputs`` channels; a bias row (NIR ``Affine`` bias)
    and an input delay are added here. ``label_names``, ``neuron_labels``,
    ``input_encoding`` come from the graph's metadata when it has them.
    """

    def __init__(self, layer, population, *, n_inputs: int, bias_row: bool, delay_steps: int,
                 label_names=None, neuron_labels=None, input_encoding=None, source="", **kw):
        from neuromem.plasticity import STDPParams
        super().__init__(layer, population, STDPParams(rule="none"), **kw)
        self.n_inputs = int(n_inputs)
        self.bias_row = bool(bias_row)
        self.delay_steps = int(delay_steps)
        self.label_names = label_names
        self.neuron_labels = neuron_labels
        self.input_encoding = input_encoding
        self.source = source

    def _rates(self, rates) -> np.ndarray:
        rates = np.ascontiguousarray(rates, dtype=np.float64)
        if rates.ndim != 2 or rates.shape[1] != self.n_inputs:
            raise ConfigError(f"expected rates of shape (n_samples, {self.n_inputs}), got "
                              f"{rates.shape}", key="rates")
        if self.delay_steps:
            raise ConfigError("a graph with a Delay node needs event inputs (SpikeInput)",
                              key="rates")
        if self.bias_row:
            rate = 1.0 / self.dt_s      # exactly one spike per step: rate * dt == 1
            while rate * self.dt_s > 1.0:
                rate = np.nextafter(rate, 0.0)
            while rate * self.dt_s < 1.0:
                rate = np.nextafter(rate, np.inf)
            rates = np.concatenate([rates, np.full((len(rates), 1), rate)], axis=1)
        return super()._rates(rates)

    def _events(self, inputs: SpikeInput) -> SpikeInput:
        if inputs.steps.size and (inputs.channels.min() < 0
                                  or inputs.channels.max() >= self.n_inputs):
            raise ConfigError(f"input channel outside 0..{self.n_inputs - 1}", key="inputs")
        if not (self.bias_row or self.delay_steps):
            return super()._events(inputs)
        samples = []
        for b in range(inputs.n_samples):
            lo, hi = inputs.offsets[b], inputs.offsets[b + 1]
            st = inputs.steps[lo:hi] + self.delay_steps
            ch = inputs.channels[lo:hi]
            if self.bias_row:
                st = np.concatenate([st, np.arange(self.n_steps)])
                ch = np.concatenate([ch, np.full(self.n_steps, self.n_inputs)])
            samples.append((st, ch))
        return super()._events(SpikeInput.from_lists(samples))


def _uniform(node_name, typ, field, values, src):
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size and not np.allclose(v, v[0], rtol=1e-12, atol=0.0):
        raise ConfigError(f"node {node_name!r} ({typ}): {field} differs between neurons; the "
                          "engine's population shares it (split the population)", file=src)
    return float(v[0])


def _walk(graph, src):
    """The graph as (pre_chain, weight_name, post_chain, neuron_name, recurrent_chain)."""
    nodes = graph.nodes
    for name, node in nodes.items():
        typ = type(node).__name__
        if isinstance(node, nir.NIRGraph):
            raise ConfigError(f"node {name!r} (NIRGraph): nested subgraphs are not supported; "
                              "flatten the graph first", file=src)
        if typ in _NON_SPIKING:
            raise ConfigError(f"node {name!r} ({typ}): non-spiking readouts are not "
                              "representable (the engine's populations spike and count "
                              "spikes)", file=src)
        if typ not in SUPPORTED_NODES:
            raise ConfigError(f"node {name!r} ({typ}): not supported; supported node types: "
                              f"{', '.join(SUPPORTED_NODES)}", file=src)
    succ = {n: [] for n in nodes}
    for a, b in graph.edges:
        if a not in nodes or b not in nodes:
            raise ConfigError(f"edge ({a!r}, {b!r}) names a node the graph lacks", file=src)
        succ[a].append(b)
    by_type = lambda t: [n for n, v in nodes.items() if type(v).__name__ == t]  # noqa: E731
    inputs, outputs = by_type("Input"), by_type("Output")
    neurons = [n for n, v in nodes.items() if type(v).__name__ in _NEURONS]
    weights = [n for n, v in nodes.items() if type(v).__name__ in ("Affine", "Linear")]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ConfigError(f"expected one Input and one Output node, found {len(inputs)} and "
                          f"{len(outputs)}", file=src)
    if len(neurons) != 1:
        raise ConfigError(f"the engine runs one crossbar layer and one population per "
                          f"network; the graph has {len(neurons)} neuron nodes "
                          f"({', '.join(neurons) or 'none'})", file=src)
    neuron = neurons[0]
    chain, cur, seen = [], inputs[0], set()
    while cur != neuron:
        nxt = [n for n in succ[cur]]
        if len(nxt) != 1:
            raise ConfigError(f"node {cur!r} ({type(nodes[cur]).__name__}): expected one "
                              f"successor on the path to {neuron!r}, found {nxt}", file=src)
        cur = nxt[0]
        if cur in seen or type(nodes[cur]).__name__ == "Output":
            raise ConfigError(f"no feed-forward path from {inputs[0]!r} to {neuron!r}",
                              file=src)
        seen.add(cur)
        if cur != neuron:
            chain.append(cur)
    ff_w = [n for n in chain if n in weights]
    if len(ff_w) != 1:
        raise ConfigError(f"expected one Affine/Linear between input and {neuron!r}, found "
                          f"{len(ff_w)} ({', '.join(ff_w) or 'none'}): the engine runs one "
                          "crossbar layer per network", file=src)
    k = chain.index(ff_w[0])
    pre, post = chain[:k], chain[k + 1:]
    for n in post:
        if type(nodes[n]).__name__ != "Scale":
            raise ConfigError(f"node {n!r} ({type(nodes[n]).__name__}): only Scale may sit "
                              "between the weights and the neurons", file=src)
    for n in pre:
        if type(nodes[n]).__name__ not in ("Scale", "Delay"):
            raise ConfigError(f"node {n!r} ({type(nodes[n]).__name__}): only Scale and Delay "
                              "may sit between the input and the weights", file=src)
    recurrent = []
    for nxt in succ[neuron]:
        if nxt == outputs[0]:
            continue
        if nxt == neuron:
            raise ConfigError(f"edge ({neuron!r}, {neuron!r}): identity self-excitation is not "
                              "representable (the engine's recurrence is uniform lateral "
                              "inhibition)", file=src)
        path, cur = [], nxt
        while cur != neuron:
            typ = type(nodes[cur]).__name__
            if typ not in ("Linear", "Affine", "Scale") or len(succ[cur]) != 1 or cur in path:
                raise ConfigError(f"node {cur!r} ({typ}): a recurrent path must be Linear/"
                                  f"Scale nodes leading back to {neuron!r}", file=src)
            path.append(cur)
            cur = succ[cur][0]
        recurrent.append(path)
    if outputs[0] not in succ[neuron]:
        raise ConfigError(f"node {neuron!r}: not connected to the Output node", file=src)
    used = {inputs[0], outputs[0], neuron, *chain, *(n for p in recurrent for n in p)}
    unused = [n for n in nodes if n not in used]
    if unused:
        n = unused[0]
        raise ConfigError(f"node {n!r} ({type(nodes[n]).__name__}): not on the input -> "
                          "weights -> neurons -> output path", file=src)
    return pre, ff_w[0], post, neuron, recurrent


def _vec(x, n):
    return np.broadcast_to(np.asarray(x, dtype=np.float64), (n,)).astype(np.float64)


def _resolve_device(device):
    from neuromem.cards import DeviceCard, resolve_device
    from neuromem.devices import DeviceParams
    if device is None:
        return None
    if isinstance(device, DeviceCard):
        return device.params
    if isinstance(device, DeviceParams):
        return device
    return resolve_device(device).params


def from_nir(graph_or_path, device="ideal", *, dt_s: float | None = None, seed=0,
             t_present_s: float | None = None, t_rest_s: float | None = None,
             spike_convention: str | None = None, use_metadata: bool = True,
             regular_inputs: bool | None = None) -> NIRNetwork:
    """Build an engine network from a NIR graph, its weights programmed into ``device``.

    Parameters
    ----------
    graph_or_path : nir.NIRGraph or path
    device : str, path, DeviceCard, DeviceParams or None
        The crossbar's device card (mapping, quantisation, D2D, faults, read noise as for any
        layer). The weights are programmed as a chip is programmed ex situ
        (:func:`neuromem.model.state.program_weights`: set directly on a continuous card, by
        pulses on a card with levels, with its nonlinearity and C2C noise; spawn key 4 of
        ``seed``). None: the card stored in a neuromem-written graph (its cells restored
        exactly).
    dt_s : float, optional
        Time step (default: the graph's neuromem metadata; required otherwise).
    seed : int
        The run's seed, as ``Network(seed=...)`` takes it (same inputs as the native
        network with that seed); device-to-device draws use its spawn key 2.
    t_present_s, t_rest_s : float, optional
        Presentation and rest per sample (default: metadata, else 1 s and 0 s).
    spike_convention : {"dirac", "per_step"}, optional
        Area of a spike in the graph's equations (default: metadata, else ``"dirac"``).
    use_metadata : bool
        Restore neuromem's own parameters (conductances, per-cell device arrays, neuron
        card with refractory period and synapse model) when the graph carries them. False
        reads the graph by NIR's definitions only.

    Raises
    ------
    ConfigError
        A node the engine cannot represent (one line naming the node and its type).
    """
    from neuromem.layers import CrossbarLayer, Population
    from neuromem.neurons import LIFParams
    from neuromem.schema import build

    graph, src = read_graph(graph_or_path)
    meta = (graph.metadata or {}).get("neuromem", {}) if isinstance(graph.metadata, dict) \
        else {}
    pre, w_name, post, n_name, recurrent = _walk(graph, src)
    nodes = graph.nodes
    dt = float(dt_s if dt_s is not None else meta.get("dt_s", math.nan))
    if not math.isfinite(dt) or dt <= 0:
        raise ConfigError("dt_s is needed (the graph has no neuromem metadata with it)",
                          file=src, key="dt_s")
    conv = spike_convention or str(meta.get("spike_convention", "dirac"))
    if conv not in SPIKE_CONVENTIONS:
        raise ConfigError(f"expected one of {SPIKE_CONVENTIONS}, got {conv!r}",
                          key="spike_convention")
    area = _area(conv, dt)
    wnode, neuron = nodes[w_name], nodes[n_name]
    n_typ = type(neuron).__name__
    weight = np.asarray(wnode.weight, dtype=np.float64)
    if weight.ndim != 2:
        raise ConfigError(f"node {w_name!r} ({type(wnode).__name__}): expected a 2-D weight, "
                          f"got shape {weight.shape}", file=src)
    n_out, n_in = weight.shape
    bias = _vec(getattr(wnode, "bias", 0.0), n_out)
    delay_steps = 0
    for name in pre:                      # Input -> Scale/Delay -> weights
        node = nodes[name]
        if type(node).__name__ == "Scale":
            weight = weight * _vec(node.scale, n_in)[None, :]
        else:
            d = _uniform(name, "Delay", "delay", node.delay, src)
            delay_steps += int(round(d / dt))
    for name in post:                     # weights -> Scale -> neurons
        s = _vec(nodes[name].scale, n_out)
        weight, bias = weight * s[:, None], bias * s
    n_neurons = int(np.asarray(getattr(neuron, "v_threshold")).size)
    if n_neurons != n_out:
        raise ConfigError(f"node {n_name!r} ({n_typ}): {n_neurons} neurons but {w_name!r} has "
                          f"{n_out} outputs", file=src)
    v_thr = _vec(neuron.v_threshold, n_out)
    v_reset = _uniform(n_name, n_typ, "v_reset", neuron.v_reset, src)
    r = _vec(neuron.r, n_out)
    tiny = 1e-3 * dt                      # a synapse that lasts one step: exp(-1000) == 0
    if n_typ == "CubaLIF":
        tau_syn = _uniform(n_name, n_typ, "tau_syn", neuron.tau_syn, src)
        tau_mem = _uniform(n_name, n_typ, "tau_mem", neuron.tau_mem, src)
        v_leak = _uniform(n_name, n_typ, "v_leak", neuron.v_leak, src)
        gain = r * _vec(neuron.w_in, n_out)
        spike_gain = gain * area / tau_syn * charge_factor(dt, tau_syn)  # ge jump per weight
        bias_gain = gain * -math.expm1(-dt / tau_syn)  # per-step bias: ge settles at r w_in b
        tau_exc = tau_syn
    else:
        if n_typ == "LIF":
            tau_mem = _uniform(n_name, n_typ, "tau", neuron.tau, src)
            v_leak = _uniform(n_name, n_typ, "v_leak", neuron.v_leak, src)
        else:                              # IF: an LIF with a leak 1e6 steps long
            tau_mem, v_leak = 1e6 * dt, v_reset
        # the jump lands in v one step later, so it is decayed by one step: exp(-x)/(1-exp(-x))
        spike_gain = r * area / tau_mem / math.expm1(dt / tau_mem)
        bias_gain = r.copy()
        tau_exc = tiny
    eff = (weight * spike_gain[:, None]).T            # (in, out), volts on ge
    w_inh = 0.0
    for path in recurrent:
        w_rec = np.eye(n_out)
        for name in path:
            node = nodes[name]
            if type(node).__name__ == "Scale":
                w_rec = _vec(node.scale, n_out)[:, None] * w_rec
            else:
                if np.any(_vec(getattr(node, "bias", 0.0), n_out) != 0):
                    raise ConfigError(f"node {name!r} (Affine): a recurrent bias is not "
                                      "representable", file=src)
                w_rec = np.asarray(node.weight, dtype=np.float64) @ w_rec
        jump = -(w_rec * spike_gain[:, None])          # gi jump of neuron j per spike of k
        off = jump[~np.eye(n_out, dtype=bool)]
        if np.any(np.diag(w_rec) != 0) or (off.size and (
                not np.allclose(off, off[0], rtol=1e-9, atol=0.0) or off[0] < 0)):
            raise ConfigError(f"node {path[0]!r} ({type(nodes[path[0]]).__name__}): the "
                              "engine's recurrence is uniform lateral inhibition -c (1 - I) "
                              "with c >= 0; these recurrent weights are not representable",
                              file=src)
        w_inh += float(off[0]) if off.size else 0.0
    has_bias = bool(np.any(bias != 0))
    if has_bias:
        eff = np.concatenate([eff, (bias * bias_gain)[None, :]], axis=0)
    theta = v_thr - v_thr.min()
    lif = LIFParams(synapse="current", tau_mem_s=tau_mem, v_rest_V=v_leak, v_reset_V=v_reset,
                    v_thresh_V=float(v_thr.min()), t_ref_s=0.0, tau_exc_s=tau_exc,
                    tau_inh_s=tau_exc, inhibition=w_inh)
    cross_meta = (wnode.metadata or {}).get("neuromem") if use_metadata else None
    n_meta = (neuron.metadata or {}).get("neuromem") if use_metadata else None
    mapping = "differential" if np.any(eff < 0) else "single"
    if cross_meta is not None and n_meta is not None and not has_bias and not delay_steps \
            and not pre and not post:
        lif = build(LIFParams, json.loads(n_meta["lif_json"]), section="neuron")
        theta = np.asarray(n_meta["theta_V"], dtype=np.float64)
        eff = np.asarray(cross_meta["effective_weights_V"], dtype=np.float64)
        mapping = str(cross_meta["mapping"])
    params = _resolve_device(device)
    stored = None
    if cross_meta is not None and n_meta is not None:
        from neuromem.devices import device_class
        cls = device_class(str(cross_meta["device_kind"]))
        stored = build(cls, json.loads(cross_meta["device_json"]), section="device")
    if params is None:
        if stored is None:
            raise ConfigError("device=None needs a graph written by neuromem (its device "
                              "card is in the metadata)", file=src, key="device")
        params = stored
    ss = np.random.SeedSequence(seed) if not isinstance(seed, np.random.SeedSequence) else seed
    build_rng = np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=(
        *ss.spawn_key, 2)))
    n_rows = eff.shape[0]
    exact = stored is not None and params == stored and mapping == str(cross_meta["mapping"])
    if exact:
        w_max = float(cross_meta["w_max"])
    else:
        w_max = float(np.max(np.abs(eff))) or 1.0
    layer = CrossbarLayer(n_rows, n_out, params, build_rng, mapping=mapping, w_max=w_max,
                          init=(0.0, 0.0))
    if exact:                             # neuromem's own graph on its own card: lossless
        for side in ("pos", "neg"):
            if getattr(layer, side) is not None:
                restore_cells(getattr(layer, side), cross_meta[side],
                              f"{src}: node {w_name!r} metadata neuromem/{side}")
        layer.gain[:] = np.asarray(cross_meta["gain"], dtype=np.float64)
    else:                                 # programmed as a chip is: levels, C2C by pulses
        program_rng = np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=(
            *ss.spawn_key, 4)))
        program_weights(layer, eff / w_max, program_rng)
    kw = dict(dt_s=dt, seed=seed,
              t_present_s=float(t_present_s if t_present_s is not None
                                else meta.get("t_present_s", 1.0)),
              t_rest_s=float(t_rest_s if t_rest_s is not None else meta.get("t_rest_s", 0.0)),
              regular_inputs=bool(regular_inputs if regular_inputs is not None
                                  else meta.get("regular_inputs", 0)))
    names = json.loads(meta["label_names_json"]) if "label_names_json" in meta else None
    enc = json.loads(meta["input_encoding_json"]) if "input_encoding_json" in meta else None
    labels = np.asarray(meta["neuron_labels"]) if "neuron_labels" in meta else None
    net = NIRNetwork(layer, Population(n_out, lif), n_inputs=n_in, bias_row=has_bias,
                     delay_steps=delay_steps, label_names=names, neuron_labels=labels,
                     input_encoding=enc, source=src, **kw)
    net.population.state.theta[:] = theta
    return net
