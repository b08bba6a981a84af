"""Equation export: a neuromem crossbar as plain Brian2 ``Synapses`` (runs on every device).

See :mod:`neuromem.brian` for what is expressed, what is refused and why.
"""

from __future__ import annotations

import numpy as np
from brian2 import Synapses, amp, second, siemens, volt
from brian2.units.fundamentalunits import Quantity

from neuromem.brian._common import (check_clocks, check_layer, check_size, default_stdp,
                                    target_variable, w_max_scale)
from neuromem.exceptions import ConfigError

__all__ = ["to_brian2_synapses", "copy_conductances", "export_limitations"]

#: Initial ``xb_lastpre`` (time step of the last pre spike, Querlioz rule): "never".
NEVER_STEP = -(2**30)


def export_limitations(layer, stdp=None, *, allow_random: bool = False) -> list[str]:
    """Why ``layer`` + ``stdp`` cannot be exported as deterministic equations (empty: it can).

    Parameters
    ----------
    layer : neuromem.layers.CrossbarLayer
    stdp : neuromem.plasticity.STDPParams, optional
    allow_random : bool
        Accept settings that the export expresses with Brian2's ``rand()``/``randn()``
        (equal to neuromem in distribution only).

    Returns
    -------
    list of str
        One sentence per refused setting.
    """
    layer = check_layer(layer, "to_brian2_synapses")
    default_stdp(stdp)
    dev = layer.device
    reasons = []
    if not allow_random:
        random = []
        if dev.ctoc_sigma > 0:
            random.append(f"cycle-to-cycle noise (ctoc_sigma = {dev.ctoc_sigma:g})")
        if not dev.continuous:
            random.append(f"discrete levels ({dev.levels}; pulse counts are rounded "
                          "stochastically)")
        if dev.read_noise_sigma > 0:
            random.append(f"read noise (read_noise_sigma = {dev.read_noise_sigma:g})")
        if random:
            reasons.append("the card has " + ", ".join(random) + ": the export draws these "
                           "with Brian2's rand()/randn(), so it matches neuromem only in "
                           "distribution; pass allow_random=True to accept that")
    arrays = [layer.pos] + ([layer.neg] if layer.neg is not None else [])
    for arr in arrays:
        for name in ("a_ltp", "a_ltd"):
            a = getattr(arr, name)
            if not (np.all(np.isinf(a)) or np.all(np.isfinite(a) & (a > 0))):
                reasons.append(f"{name} mixes linear (inf) and nonlinear cells")
    return reasons


def _cell_names(layer, which: str) -> dict:
    """Names (namespace constant or per-synapse parameter) of one device array's parameters."""
    arr = layer.pos if which == "pos" else layer.neg
    names = {}
    for key, values, unit in (("gmin", arr.g_min, "siemens"), ("gmax", arr.g_max, "siemens"),
                              ("altp", arr.a_ltp, "1"), ("altd", arr.a_ltd, "1")):
        names[key] = (f"xb_{key}_{which}", values, unit, values.shape[0] > 1)
    faulty = arr.fault.shape[0] > 1 or arr.fault[0] != 0
    ok = (np.broadcast_to(arr.fault, arr.g.shape) == 0).astype(np.float64)
    names["ok"] = (f"xb_ok_{which}", ok, "1", faulty)
    names["linear_ltp"] = bool(np.all(np.isinf(arr.a_ltp)))
    names["linear_ltd"] = bool(np.all(np.isinf(arr.a_ltd)))
    return names


def _pulse_code(var: str, q: str, sign: int, names: dict, noise: bool) -> list[str]:
    """Statements applying ``q`` pulses to conductance ``var`` (closed form, bounds, mask).

    ``sign`` is +1 (q >= 0: potentiation only), -1 (q <= 0: depression only) or 0 (either).
    The arithmetic follows :func:`neuromem.kernels.pulse.pulse_step`.
    """
    s = var  # suffix of the temporaries
    gmin, gmax = names["gmin"][0], names["gmax"][0]
    altp, altd = names["altp"][0], names["altd"][0]
    lines = [f"xb_span_{s} = {gmax} - {gmin}"]
    if sign == 0:
        lines += [f"xb_qu_{s} = {q} * int({q} > 0)", f"xb_qd_{s} = {q} * int({q} < 0)"]
        q_up, q_down = f"xb_qu_{s}", f"xb_qd_{s}"
    else:
        q_up = q_down = q
    if sign >= 0:
        if names["linear_ltp"]:
            lines.append(f"xb_gu_{s} = {var} + {q_up} * xb_span_{s} / xb_p_max")
        else:
            lines += [f"xb_bu_{s} = xb_span_{s} / (1 - exp(-xb_p_max / {altp}))",
                      f"xb_pu_{s} = -{altp} * log(1 - ({var} - {gmin}) / xb_bu_{s})",
                      f"xb_gu_{s} = xb_bu_{s} * (1 - exp(-(xb_pu_{s} + {q_up}) / {altp}))"
                      f" + {gmin}"]
    if sign <= 0:
        if names["linear_ltd"]:
            lines.append(f"xb_gd_{s} = {var} + {q_down} * xb_span_{s} / xb_p_max")
        else:
            lines += [f"xb_bd_{s} = xb_span_{s} / (1 - exp(-xb_p_max / {altd}))",
                      f"xb_pd_{s} = xb_p_max + {altd} * log(1 - ({gmax} - {var}) / xb_bd_{s})",
                      f"xb_gd_{s} = {gmax} - xb_bd_{s} * (1 - exp((xb_pd_{s} + {q_down}"
                      f" - xb_p_max) / {altd}))"]
    if sign > 0:
        lines.append(f"xb_gn_{s} = xb_gu_{s}")
    elif sign < 0:
        lines.append(f"xb_gn_{s} = xb_gd_{s}")
    else:
        lines.append(f"xb_gn_{s} = xb_gu_{s} * int({q} > 0) + xb_gd_{s} * int({q} < 0)")
    if noise:
        lines.append(f"xb_gn_{s} = xb_gn_{s} + xb_ctoc_sigma * xb_span_{s} * sqrt(abs({q}))"
                     " * randn()")
    mask = f"int({q} != 0)" + (f" * {names['ok'][0]}" if names["ok"][3] else "")
    lines.append(f"{var} = {var} + {mask} * (clip(xb_gn_{s}, {gmin}, {gmax}) - {var})")
    return lines


def _weight_change_code(dw: str, sign: int, differential: bool, continuous: bool,
                        cells: dict, noise: bool) -> list[str]:
    """Statements turning the weight change ``dw`` into pulses on the device(s)."""
    lines = [f"xb_dp = {dw} * xb_p_max * int(plastic)"]
    if not continuous:
        lines.append("xb_dp = floor(xb_dp) + int(rand() < xb_dp - floor(xb_dp))")
    if not differential:
        return lines + _pulse_code("g_pos", "xb_dp", sign, cells["pos"], noise)
    if continuous:
        lines += ["xb_hp = 0.5 * xb_dp", "xb_qn = -(0.5 * xb_dp)"]
    else:
        lines += ["xb_hp = floor(0.5 * xb_dp)",
                  "xb_hp = xb_hp + int(xb_dp - 2 * xb_hp > 0) * int(rand() < 0.5)",
                  "xb_qn = -(xb_dp - xb_hp)"]
    return (lines + _pulse_code("g_pos", "xb_hp", sign, cells["pos"], noise)
            + _pulse_code("g_neg", "xb_qn", -sign, cells["neg"], noise))


def to_brian2_synapses(layer, source, target, stdp=None, *, target_var: str = "ge",
                       learn: bool = True, w_max=None, allow_random: bool = False,
                       name: str = "crossbar_synapses*") -> Synapses:
    """Brian2 ``Synapses`` implementing the crossbar's read and device-aware STDP.

    The returned object is ordinary Brian2 (no neuromem at run time), so it runs in runtime
    mode and in ``cpp_standalone`` (and on GPU devices). It is connected all-to-all in
    row-major order: synapse ``k`` is cell ``(k // n_out, k % n_out)``, so
    ``syn.g_pos[:].reshape(n_in, n_out)`` is the conductance matrix.

    Parameters
    ----------
    layer : neuromem.layers.CrossbarLayer
        Initial conductances, device parameters (shared, or per synapse with device-to-device
        variation), stuck cells and the per-column gain. Not modified
        (:func:`copy_conductances` writes the result back).
    source, target : brian2 groups
        Rows (``len == n_in``) and columns (``len == n_out``).
    stdp : neuromem.plasticity.STDPParams, optional
        Pair STDP (additive or soft-bound, all-to-all or nearest traces) or the Querlioz rule.
    target_var : str
        Postsynaptic variable receiving ``(G - G_ref) v_read gain``.
    learn : bool
        Include plasticity; at run time the shared flag ``syn.plastic`` switches the
        conductance updates off and on (the STDP traces keep running).
    w_max : brian2.Quantity, optional
        As in :class:`neuromem.brian.CrossbarSynapses`.
    allow_random : bool
        Accept cycle-to-cycle noise, discrete levels (stochastic rounding) and read noise,
        drawn with Brian2's ``randn()``/``rand()``: equal to neuromem in distribution only.
    name : str
        Brian2 name of the Synapses.

    Returns
    -------
    brian2.Synapses
        Variables: ``g_pos`` (and ``g_neg``), siemens; traces ``apre``/``apost`` (pair rule)
        or ``xb_lastpre`` (Querlioz); per-synapse device parameters ``xb_*`` when they vary;
        shared ``plastic``.

    Raises
    ------
    neuromem.ConfigError
        For what the equations cannot express (see :func:`export_limitations`).
    brian2.DimensionMismatchError
        When ``w_max`` does not have the target variable's unit.
    """
    owner = f"to_brian2_synapses({name!r})"
    layer = check_layer(layer, owner)
    stdp = default_stdp(stdp)
    reasons = export_limitations(layer, stdp, allow_random=allow_random)
    if reasons:
        raise ConfigError(f"{owner} cannot express this crossbar: " + "; ".join(reasons),
                          key="layer")
    check_size(source, layer.n_in, "rows", owner)
    check_size(target, layer.n_out, "columns", owner)
    var = target_variable(target, target_var, owner)
    clock = check_clocks(source, target, owner)
    scale = w_max_scale(layer, w_max, var.dim, owner)
    dev = layer.device
    differential = layer.differential
    rule = stdp.rule if learn else "none"
    noise = dev.ctoc_sigma > 0
    cells = {"pos": _cell_names(layer, "pos")}
    if differential:
        cells["neg"] = _cell_names(layer, "neg")

    gain = layer.gain * scale
    per_column_gain = bool(np.any(gain != gain[0]))
    ns = {"xb_g_ref": layer.g_ref_S * siemens, "xb_v_read": dev.v_read_V * volt,
          "xb_unit": Quantity(1.0, dim=var.dim / amp.dim), "xb_p_max": float(dev.p_max),
          "xb_wspan": layer.span_S * siemens, "xb_ctoc_sigma": float(dev.ctoc_sigma),
          "xb_read_noise_sigma": float(dev.read_noise_sigma),
          "xb_a_plus": stdp.a_plus, "xb_a_minus": stdp.a_minus,
          "xb_tau_plus": stdp.tau_plus_s * second, "xb_tau_minus": stdp.tau_minus_s * second,
          "xb_window": int(round(stdp.window_s / clock.dt_))}
    model = ["g_pos : siemens"] + (["g_neg : siemens"] if differential else [])
    model.append("plastic : boolean (shared)")
    per_synapse = {}
    for which, names in cells.items():
        for key in ("gmin", "gmax", "altp", "altd", "ok"):
            vname, values, unit, varies = names[key]
            if varies:
                model.append(f"{vname} : {unit} (constant)")
                per_synapse[vname] = np.broadcast_to(values, (layer.n_in * layer.n_out,))
            elif key != "ok":
                ns[vname] = float(values[0]) * (siemens if unit == "siemens" else 1)
    if per_column_gain:
        model.append("xb_gain : 1 (constant)")
        per_synapse["xb_gain"] = np.tile(gain, layer.n_in)
    else:
        ns["xb_gain"] = float(gain[0])

    rs = dev.read_noise_sigma > 0
    g_read = "g_pos * (1 + xb_read_noise_sigma * randn())" if rs else "g_pos"
    g_other = ("g_neg * (1 + xb_read_noise_sigma * randn())" if rs else "g_neg") if differential \
        else "xb_g_ref"
    on_pre = [f"{target_var}_post += ({g_read} - {g_other}) * xb_v_read * xb_gain * xb_unit"]
    on_post = []
    w_expr = "(g_pos - g_neg) / xb_wspan" if differential else "(g_pos - xb_g_ref) / xb_wspan"
    soft = stdp.weight_dependence == "soft"
    if rule == "pair":
        model += ["dapre/dt = -apre / xb_tau_plus : 1 (event-driven)",
                  "dapost/dt = -apost / xb_tau_minus : 1 (event-driven)"]
        incr = "= 1" if stdp.trace == "nearest" else "+= 1"
        on_pre.append(f"apre {incr}")
        on_pre.append("xb_dw = -xb_a_minus * apost")
        if soft:
            on_pre.append(f"xb_dw = xb_dw * ({w_expr}{' + 1' if differential else ''})")
        on_pre += _weight_change_code("xb_dw", -1, differential, dev.continuous, cells, noise)
        on_post.append(f"apost {incr}")
        on_post.append("xb_dw = xb_a_plus * apre")
        if soft:
            on_post.append(f"xb_dw = xb_dw * (1 - {w_expr})")
        on_post += _weight_change_code("xb_dw", 1, differential, dev.continuous, cells, noise)
    elif rule == "querlioz":
        model.append("xb_lastpre : integer")
        on_pre.append("xb_lastpre = t_in_timesteps")
        on_post.append("xb_recent = int(t_in_timesteps - xb_lastpre <= xb_window)")
        on_post.append("xb_dw = xb_recent * xb_a_plus - (1 - xb_recent) * xb_a_minus")
        if soft:
            down = f"({w_expr} + 1)" if differential else w_expr
            on_post.append(f"xb_dw = xb_dw * (xb_recent * (1 - {w_expr}) + (1 - xb_recent)"
                           f" * {down})")
        on_post += _weight_change_code("xb_dw", 0, differential, dev.continuous, cells, noise)

    syn = Synapses(source, target, model="\n".join(model), on_pre="\n".join(on_pre),
                   on_post="\n".join(on_post) if on_post else None, namespace=ns, name=name)
    pre = np.repeat(np.arange(layer.n_in), layer.n_out)
    post = np.tile(np.arange(layer.n_out), layer.n_in)
    syn.connect(i=pre, j=post)
    syn.g_pos = layer.pos.g * siemens
    if differential:
        syn.g_neg = layer.neg.g * siemens
    syn.plastic = bool(learn and rule != "none")
    for vname, values in per_synapse.items():
        unit = siemens if vname.startswith(("xb_gmin", "xb_gmax")) else 1
        setattr(syn, vname, np.ascontiguousarray(values) * unit)
    if rule == "querlioz":
        syn.xb_lastpre = NEVER_STEP
    return syn


def copy_conductances(synapses: Synapses, layer) -> None:
    """Write the conductances of exported ``synapses`` back into ``layer``'s devices.

    Works after a runtime or a standalone run (Brian2 reads the results back).
    """
    layer = check_layer(layer, "copy_conductances")
    n = layer.n_in * layer.n_out
    g_pos = np.asarray(synapses.g_pos[:], dtype=np.float64)
    if g_pos.shape != (n,):
        raise ConfigError(f"'{synapses.name}' has {g_pos.shape[0]} synapses, the layer "
                          f"{layer.n_in} x {layer.n_out} cells", key="synapses")
    layer.pos.g[:] = g_pos
    if layer.differential:
        if "g_neg" not in synapses.variables:
            raise ConfigError(f"'{synapses.name}' was exported from a single-device layer; "
                              "this layer is differential", key="synapses")
        layer.neg.g[:] = np.asarray(synapses.g_neg[:], dtype=np.float64)

