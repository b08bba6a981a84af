#!/usr/bin/env python
"""neuromem's event-driven engine against Brian2 on the Diehl & Cook (2015) network.

Workload (identical in every implementation): 784 Poisson inputs driven by scikit-learn's 8x8
digits upscaled to 28x28 (rate = intensity x 63.75 Hz), 350 ms presentation + 150 ms rest per
sample, dt = 0.5 ms; N conductance-based adaptive-threshold LIF neurons (Diehl & Cook
parameters); all-to-all input->excitatory synapses with pair-based trace STDP (learning on);
direct lateral inhibition (every excitatory spike adds 17 to gi of every other neuron). The
initial weights are one matrix drawn from ``--seed``, shared by all implementations.

Implementations:

``neuromem``           ideal card, ``neuromem.network.Network(...).run(rates, learn=True)``
``neuromem_device``    same network, TaOx/HfOx pulse card (128 levels, nonlinear, 3.7 % C2C)
``brian2_standalone``  cpp_standalone: built once per size; the binary is run per repeat; the
                       time is the network run measured inside the binary
                       (``device._last_run_time``); process total reported as ``process_s``
``brian2_cython``      runtime, cython target; compiled by a warm-up run of one time step;
                       each repeat restores the initial state and runs all samples
``brian2_numpy``       runtime, numpy target (optional; slow)

Every implementation runs in its own worker process (one per size); the driver interleaves
the implementations within each repeat (rotating their order) and reports medians.

Run ``python benchmarks/engine_vs_brian2.py --help``; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

# ---------------------------------------------------------------------------------------------
# The workload: Diehl & Cook 2015, in SI units (converted to Brian2 units at its boundary)
# ---------------------------------------------------------------------------------------------
N_IN = 784
MAX_RATE_HZ = 63.75
DT_S = 0.0005
T_PRESENT_S = 0.35
T_REST_S = 0.15
NEURON = dict(tau_mem_s=0.1, v_rest_V=-0.065, v_reset_V=-0.065, v_thresh_V=-0.052,
              t_ref_s=0.005, e_exc_V=0.0, e_inh_V=-0.100, tau_exc_s=0.001, tau_inh_s=0.002,
              theta_plus_V=0.05e-3, tau_theta_s=1e4, inhibition=17.0)
STDP = dict(a_plus=0.01, a_minus=0.0001, tau_plus_s=0.020, tau_minus_s=0.020)
W_MAX = 1.0            # a synapse at full conductance adds w_max to ge
INIT = (0.0, 0.3)      # initial weights ~ U(0, 0.3)
DEVICE_CARD = "taox_hfox_wu2018"

IMPLS = ("neuromem", "neuromem_device", "brian2_standalone", "brian2_cython", "brian2_numpy")
BRIAN2_IMPLS = ("brian2_standalone", "brian2_cython", "brian2_numpy")
DEFAULT_IMPLS = "neuromem,neuromem_device,brian2_standalone,brian2_cython"
ALPHA = 0.01           # family-wise level of the agreement tests (Bonferroni-corrected)

N_PRESENT = int(round(T_PRESENT_S / DT_S))
N_STEPS = N_PRESENT + int(round(T_REST_S / DT_S))
SAMPLE_S = N_STEPS * DT_S


def workload(n_exc: int, n_samples: int, seed: int):
    """(rates (n_samples, 784) in Hz, initial weights (784, n_exc) in [0, 0.3])."""
    from neuromem.cards import load_device
    from neuromem.data.digits import load_digits_split, upscale
    from neuromem.layers import CrossbarLayer

    x_tr, _, _, _ = load_digits_split()
    if n_samples > len(x_tr):
        raise SystemExit(f"--samples {n_samples}: the training split has {len(x_tr)} images")
    rates = np.ascontiguousarray(upscale(x_tr[:n_samples]) * MAX_RATE_HZ)
    layer = CrossbarLayer(N_IN, n_exc, load_device("ideal").params,
                          np.random.default_rng([seed, n_exc]), w_max=W_MAX, init=INIT)
    return rates, layer.weights().copy()


def per_sample(step_indices: np.ndarray, n_samples: int) -> list[int]:
    """Spike counts per sample from spike time-step indices."""
    return np.bincount(np.asarray(step_indices, dtype=np.int64) // N_STEPS,
                       minlength=n_samples)[:n_samples].tolist()


# ---------------------------------------------------------------------------------------------
# Runners (one per worker process)
# ---------------------------------------------------------------------------------------------
class NeuromemRunner:
    """neuromem's Network on a device card; a fresh network (same initial weights) per run."""

    def __init__(self, cfg: dict, card: str):
        from neuromem.cards import load_device
        from neuromem.layers import CrossbarLayer, Population
        from neuromem.network import Network
        from neuromem.neurons import LIFParams
        from neuromem.plasticity import STDPParams

        self._classes = CrossbarLayer, Population, Network
        self.cfg = cfg
        self.n_exc = cfg["n_exc"]
        self.rates, self.w0 = workload(self.n_exc, cfg["samples"], cfg["seed"])
        self.device = load_device(card).params
        self.card = card
        self.neuron = LIFParams(synapse="conductance", **NEURON)
        self.stdp = STDPParams(rule="pair", weight_dependence="additive", trace="all_to_all",
                               **STDP)
        # First call: numba compiles simulate_sample (or loads it from its on-disk cache).
        t0 = time.perf_counter()
        self._network(-1).run(self.rates[:1], learn=True)
        self.compile_s = time.perf_counter() - t0

    def _network(self, run_id: int):
        CrossbarLayer, Population, Network = self._classes
        layer = CrossbarLayer(N_IN, self.n_exc, self.device,
                              np.random.default_rng([self.cfg["seed"], self.n_exc, 1]),
                              w_max=W_MAX, init=INIT)
        layer.set_weights(self.w0)
        self.layer = layer
        return Network(layer, Population(self.n_exc, self.neuron), self.stdp, dt_s=DT_S,
                       t_present_s=T_PRESENT_S, t_rest_s=T_REST_S,
                       seed=np.random.SeedSequence([self.cfg["seed"], self.n_exc,
                                                    run_id + 1000]),
                       normalize_target=None)

    def info(self) -> dict:
        layer = self.layer
        return {"compile_s": self.compile_s,
                "compile_note": "first call in a fresh process (numba cache=True: a cache "
                                "load when the cache is warm, a full compile when cold)",
                "device_card": self.card,
                "bytes_per_synapse": layer.memory_bytes() / (layer.n_in * layer.n_out)}

    def run(self, run_id: int) -> dict:
        net = self._network(run_id)
        c0 = time.process_time()
        t0 = time.perf_counter()
        res = net.run(self.rates, learn=True)
        wall = time.perf_counter() - t0
        return {"wall_s": wall, "cpu_s": time.process_time() - c0,
                "exc_per_sample": res.counts.sum(axis=1).tolist(),
                "in_per_sample": res.events_per_sample[:, 0].tolist(),
                "ltp_pulses": res.events["ltp_pulses"], "ltd_pulses": res.events["ltd_pulses"],
                "mean_w_end": float(self.layer.weights().mean())}


def build_brian2(b2, rates: np.ndarray, w0: np.ndarray) -> dict:
    """The Diehl & Cook network in Brian2 (any device/target); returns its objects."""
    n_samples, n_in = rates.shape
    n_exc = w0.shape[1]
    mV, Hz, second = b2.mV, b2.Hz, b2.second
    b2.defaultclock.dt = DT_S * second
    # One TimedArray of rates over all samples: blocks of gcd(present, sample) steps (50 ms),
    # so one build runs every sample (standalone cannot change rates between runs).
    block = math.gcd(N_PRESENT, N_STEPS)
    per = N_STEPS // block
    on = N_PRESENT // block
    values = np.zeros((n_samples * per, n_in))
    for b in range(n_samples):
        values[b * per:b * per + on] = rates[b]
    stimulus = b2.TimedArray(values * Hz, dt=block * DT_S * second, name="stimulus")
    p = NEURON
    ns = {"v_rest": p["v_rest_V"] * 1e3 * mV, "v_reset": p["v_reset_V"] * 1e3 * mV,
          "v_thresh": p["v_thresh_V"] * 1e3 * mV, "E_exc": p["e_exc_V"] * 1e3 * mV,
          "E_inh": p["e_inh_V"] * 1e3 * mV, "tau_m": p["tau_mem_s"] * second,
          "tau_ge": p["tau_exc_s"] * second, "tau_gi": p["tau_inh_s"] * second,
          "theta_plus": p["theta_plus_V"] * 1e3 * mV, "tau_theta": p["tau_theta_s"] * second,
          "w_inh": p["inhibition"], "tau_pre": STDP["tau_plus_s"] * second,
          "tau_post": STDP["tau_minus_s"] * second, "nu_pre": STDP["a_minus"],
          "nu_post": STDP["a_plus"], "w_max": W_MAX, "stimulus": stimulus}
    inp = b2.PoissonGroup(n_in, rates="stimulus(t, i)", namespace=ns, name="inputs")
    exc = b2.NeuronGroup(
        n_exc,
        """dv/dt = (v_rest - v + ge*(E_exc - v) + gi*(E_inh - v))/tau_m : volt (unless refractory)
        dge/dt = -ge / tau_ge : 1
        dgi/dt = -gi / tau_gi : 1
        dtheta/dt = -theta / tau_theta : volt""",
        threshold="v > v_thresh + theta", reset="v = v_reset; theta += theta_plus",
        refractory=p["t_ref_s"] * second, method="exponential_euler", namespace=ns,
        name="exc")
    exc.v = ns["v_rest"]
    # neuromem starts every sample from rest (v, ge, gi, STDP traces); so does this network.
    exc.run_regularly("v = v_rest; ge = 0; gi = 0", dt=SAMPLE_S * second, when="start",
                      name="exc_sample_reset")
    stdp = b2.Synapses(
        inp, exc,
        """w : 1
        dapre/dt = -apre / tau_pre : 1 (event-driven)
        dapost/dt = -apost / tau_post : 1 (event-driven)""",
        on_pre="""ge_post += w_max * w
        apre += 1
        w = clip(w - nu_pre * apost, 0, 1)""",
        on_post="""apost += 1
        w = clip(w + nu_post * apre, 0, 1)""",
        namespace=ns, name="stdp")
    pre_idx = np.repeat(np.arange(n_in), n_exc)
    post_idx = np.tile(np.arange(n_exc), n_in)
    stdp.connect(i=pre_idx, j=post_idx)
    stdp.w = w0.ravel()                      # synapse k = (k // n_exc, k % n_exc): row-major
    stdp.run_regularly("apre = 0; apost = 0", dt=SAMPLE_S * second, when="start",
                       name="stdp_sample_reset")
    inh = b2.Synapses(exc, exc, on_pre="gi_post += w_inh", namespace=ns, name="inhibition")
    inh.connect(condition="i != j")
    mon_in = b2.SpikeMonitor(inp, record=True, name="mon_inputs")
    mon_exc = b2.SpikeMonitor(exc, record=True, name="mon_exc")
    net = b2.Network(inp, exc, stdp, inh, mon_in, mon_exc)
    return {"net": net, "stdp": stdp, "inh": inh, "exc": exc, "mon_in": mon_in,
            "mon_exc": mon_exc, "duration": n_samples * SAMPLE_S * second}


def brian2_bytes_per_synapse(b2, syn) -> float:
    """Bytes of the per-synapse arrays of a Brian2 Synapses object (indices, w, traces, ...)."""
    from brian2.core.variables import DynamicArrayVariable

    total = 0
    for name, var in syn.variables.items():
        if isinstance(var, DynamicArrayVariable) and syn.variables.indices[name] == "_idx" \
                and var.ndim == 1:
            total += np.dtype(var.dtype).itemsize
    return float(total)


class Brian2Runner:
    """Brian2 in cpp_standalone mode or runtime mode (cython / numpy target)."""

    def __init__(self, cfg: dict, mode: str):
        import brian2 as b2

        self.b2 = b2
        self.cfg = cfg
        self.mode = mode
        self.n_samples = cfg["samples"]
        rates, w0 = workload(cfg["n_exc"], cfg["samples"], cfg["seed"])
        b2.prefs.logging.console_log_level = "WARNING"
        t0 = time.perf_counter()
        if mode == "standalone":
            self.directory = cfg["standalone_dir"]
            b2.set_device("cpp_standalone", directory=self.directory, build_on_run=False)
            self.obj = build_brian2(b2, rates, w0)
            self.obj["net"].run(self.obj["duration"], namespace={})
            b2.device.build(directory=self.directory, compile=True, run=False,
                            with_output=False)
            self.compile_s = time.perf_counter() - t0
            self.compile_note = ("cold: code generation + C++ compilation of a fresh project "
                                 "(make -j on all cores)")
        else:
            b2.prefs.codegen.target = mode
            if cfg.get("cython_cache") and mode == "cython":
                b2.prefs.codegen.runtime.cython.cache_dir = cfg["cython_cache"]
            self.obj = build_brian2(b2, rates, w0)
            net = self.obj["net"]
            net.store("initial")
            t1 = time.perf_counter()
            net.run(b2.defaultclock.dt, namespace={})  # compiles (or loads) every code object
            self.compile_s = time.perf_counter() - t1
            self.compile_note = ("warm-up run of one time step: cython compilation (cold "
                                 "cache) or cache load (warm cache)" if mode == "cython" else
                                 "warm-up run of one time step (numpy target: no compilation)")
        self.setup_s = time.perf_counter() - t0

    def info(self) -> dict:
        return {"compile_s": self.compile_s, "compile_note": self.compile_note,
                "setup_s": self.setup_s,
                "bytes_per_synapse": brian2_bytes_per_synapse(self.b2, self.obj["stdp"]),
                "bytes_per_synapse_note": "Brian2 per-synapse arrays of the input->exc "
                                          "Synapses (indices, w, traces, lastupdate, delay, "
                                          "...); the exc->exc inhibition synapses come extra"}

    def run(self, run_id: int) -> dict:
        b2 = self.b2
        out = {}
        if self.mode == "standalone":
            # No seed() call: every run of the binary seeds from std::random_device.
            c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            b2.device.run(directory=self.directory, with_output=False)
            out["process_s"] = time.perf_counter() - t0
            c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            out["process_cpu_s"] = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
            out["wall_s"] = float(b2.device._last_run_time)
        else:
            net = self.obj["net"]
            net.restore("initial")
            b2.seed(int(np.random.SeedSequence([self.cfg["seed"], self.cfg["n_exc"],
                                                run_id]).generate_state(1)[0]))
            c0 = time.process_time()
            t0 = time.perf_counter()
            net.run(self.obj["duration"], namespace={})
            out["wall_s"] = time.perf_counter() - t0
            out["cpu_s"] = time.process_time() - c0
        steps_in = np.round(np.asarray(self.obj["mon_in"].t_) / DT_S)
        steps_exc = np.round(np.asarray(self.obj["mon_exc"].t_) / DT_S)
        out["in_per_sample"] = per_sample(steps_in, self.n_samples)
        out["exc_per_sample"] = per_sample(steps_exc, self.n_samples)
        out["mean_w_end"] = float(np.mean(self.obj["stdp"].w[:]))
        if run_id == 0:
            # Sanity of the input schedule: no input spike during the rest period.
            rest = (steps_in.astype(np.int64) % N_STEPS) >= N_PRESENT
            out["input_spikes_in_rest"] = int(rest.sum())
        return out


def make_runner(impl: str, cfg: dict):
    if impl == "neuromem":
        return NeuromemRunner(cfg, "ideal")
    if impl == "neuromem_device":
        return NeuromemRunner(cfg, DEVICE_CARD)
    if impl == "brian2_standalone":
        return Brian2Runner(cfg, "standalone")
    if impl == "brian2_cython":
        return Brian2Runner(cfg, "cython")
    if impl == "brian2_numpy":
        return Brian2Runner(cfg, "numpy")
    raise ValueError(impl)


def worker_main(impl: str, cfg: dict, make=None) -> int:
    """Worker process: JSON lines on the original stdout; everything else goes to stderr.

    ``make(impl, cfg)`` builds the runner (default :func:`make_runner`; the bridge benchmark
    passes its own)."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(obj):
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    try:
        runner = (make or make_runner)(impl, cfg)
        send({"ready": runner.info()})
        for line in sys.stdin:
            cmd = json.loads(line)
            if cmd["cmd"] == "stop":
                break
            res = runner.run(cmd["run_id"])
            res["loadavg"] = os.getloadavg()[0]
            send({"result": res})
    except Exception:
        send({"error": traceback.format_exc()})
        return 1
    return 0


class Worker:
    """Driver-side handle of a worker process."""

    def __init__(self, impl: str, cfg: dict, env: dict):
        self.impl = impl
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", impl,
             "--worker-config", json.dumps(cfg)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.info = self._recv()["ready"]

    def _recv(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.impl} worker exited (code {self.proc.wait()})")
        msg = json.loads(line)
        if "error" in msg:
            raise RuntimeError(f"{self.impl} worker failed:\n{msg['error']}")
        return msg

    def run(self, run_id: int) -> dict:
        self.proc.stdin.write(json.dumps({"cmd": "run", "run_id": run_id}) + "\n")
        self.proc.stdin.flush()
        return self._recv()["result"]

    def stop(self):
        try:
            self.proc.stdin.write(json.dumps({"cmd": "stop"}) + "\n")
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        self.proc.wait(timeout=120)


# ---------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------
def input_expectation(rates: np.ndarray) -> tuple[float, float]:
    """Mean and variance of one run's total input spikes (Bernoulli(rate dt) per step)."""
    p = rates * DT_S
    return float(N_PRESENT * p.sum()), float(N_PRESENT * (p * (1 - p)).sum())


def agreement(runs_a: list[dict], runs_b: list[dict], rates: np.ndarray) -> dict:
    """Do two simulators produce the same spike-count distributions? (see README)"""
    from scipy import stats

    mean_in, var_in = input_expectation(rates)
    tot_a = np.array([sum(r["in_per_sample"]) for r in runs_a], dtype=float)
    tot_b = np.array([sum(r["in_per_sample"]) for r in runs_b], dtype=float)
    # Input spikes: exact Bernoulli moments are known, so a z-test is exact up to the normal
    # approximation of a sum of ~10^5 Bernoulli variables.
    z_in = (tot_a.mean() - tot_b.mean()) / math.sqrt(var_in * (1 / len(tot_a) + 1 / len(tot_b)))
    z_a = (tot_a.mean() - mean_in) / math.sqrt(var_in / len(tot_a))
    z_b = (tot_b.mean() - mean_in) / math.sqrt(var_in / len(tot_b))
    # Excitatory spikes: one value per independent run (its mean spikes per sample); runs are
    # independent replicates (fresh Poisson seed, same initial weights and images).
    m_a = np.array([np.mean(r["exc_per_sample"]) for r in runs_a])
    m_b = np.array([np.mean(r["exc_per_sample"]) for r in runs_b])
    with warnings.catch_warnings():   # near-identical samples warn about precision loss
        warnings.simplefilter("ignore", RuntimeWarning)
        welch = stats.ttest_ind(m_a, m_b, equal_var=False)
    pooled_a = np.concatenate([r["exc_per_sample"] for r in runs_a])
    pooled_b = np.concatenate([r["exc_per_sample"] for r in runs_b])
    mwu = stats.mannwhitneyu(pooled_a, pooled_b, alternative="two-sided")
    sd_pooled = math.sqrt((m_a.var(ddof=1) + m_b.var(ddof=1)) / 2) if len(m_a) > 1 else 0.0
    return {
        "runs": [len(runs_a), len(runs_b)],
        "input_spikes_per_run_expected": mean_in,
        "input_spikes_per_run_mean": [float(tot_a.mean()), float(tot_b.mean())],
        "input_z_vs_expected": [float(z_a), float(z_b)],
        "input_p_vs_expected": [float(2 * stats.norm.sf(abs(z_a))),
                                float(2 * stats.norm.sf(abs(z_b)))],
        "input_p_two_sample": float(2 * stats.norm.sf(abs(z_in))),
        "exc_spikes_per_sample_mean": [float(m_a.mean()), float(m_b.mean())],
        "exc_spikes_per_sample_run_sd": [float(m_a.std(ddof=1)) if len(m_a) > 1 else 0.0,
                                         float(m_b.std(ddof=1)) if len(m_b) > 1 else 0.0],
        "exc_rel_diff": float((m_b.mean() - m_a.mean()) / m_a.mean()) if m_a.mean() else None,
        "exc_cohens_d": float((m_b.mean() - m_a.mean()) / sd_pooled) if sd_pooled else None,
        "exc_p_welch_run_means": float(welch.pvalue) if np.isfinite(welch.pvalue) else None,
        "exc_p_mannwhitney_pooled_samples": float(mwu.pvalue),
        "exc_per_sample_mean_by_sample": [
            np.mean([r["exc_per_sample"] for r in runs], axis=0).round(2).tolist()
            for runs in (runs_a, runs_b)],
    }


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------
def machine_info() -> dict:
    import brian2
    import numba
    import scipy

    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "numpy": np.__version__, "numba": numba.__version__,
            "scipy": scipy.__version__, "brian2": brian2.__version__,
            "date": datetime.datetime.now().isoformat(timespec="seconds")}
    try:
        import Cython
        info["cython"] = Cython.__version__
    except ImportError:
        info["cython"] = None
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f
                               if line.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor()
    try:
        info["cxx"] = subprocess.run(["c++", "--version"], capture_output=True, text=True,
                                     timeout=10).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        info["cxx"] = None
    info["neuromem_source"] = source_state()
    return info


def source_state() -> dict:
    """Which neuromem code is measured: git commit, uncommitted changes, engine file hash."""
    import hashlib

    import neuromem.kernels.engine as engine

    root = Path(engine.__file__).resolve().parents[2]
    state = {"engine_sha256": hashlib.sha256(Path(engine.__file__).read_bytes()).hexdigest()}
    try:
        git = ["git", "-C", str(root)]
        state["commit"] = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True,
                                         text=True, timeout=10).stdout.strip() or None
        state["modified"] = subprocess.run(
            git + ["status", "--porcelain", "--", "neuromem"], capture_output=True, text=True,
            timeout=10).stdout.split("\n")
        state["modified"] = [line.strip() for line in state["modified"] if line.strip()]
    except (OSError, subprocess.TimeoutExpired):
        state["commit"] = None
    return state


def median(xs):
    return float(statistics.median(xs)) if xs else None


def summarize(impl: str, n_exc: int, info: dict, runs: list[dict], n_samples: int) -> dict:
    walls = [r["wall_s"] for r in runs]
    ev = [(sum(r["in_per_sample"]) * n_exc + sum(r["exc_per_sample"]) * N_IN) / r["wall_s"]
          for r in runs]
    row = {"impl": impl, "n_exc": n_exc, "wall_s": median(walls),
           "syn_events_per_s": median(ev),
           "sim_over_wall": n_samples * SAMPLE_S / median(walls),
           "exc_spikes": median([sum(r["exc_per_sample"]) for r in runs]),
           "input_spikes": median([sum(r["in_per_sample"]) for r in runs]),
           "wall_s_all": walls, "repeats": len(runs), "samples": n_samples,
           "loadavg_1min": [r["loadavg"] for r in runs]}
    row.update(info)
    if impl == "brian2_standalone":
        row["process_s"] = median([r["process_s"] for r in runs])
        row["process_cpu_s"] = median([r["process_cpu_s"] for r in runs])
    else:
        row["cpu_s"] = median([r["cpu_s"] for r in runs])
    if impl.startswith("neuromem"):
        row["ltp_pulses"] = median([r["ltp_pulses"] for r in runs])
        row["ltd_pulses"] = median([r["ltd_pulses"] for r in runs])
    row["mean_w_end"] = median([r["mean_w_end"] for r in runs])
    return row


def print_table(rows: list[dict]) -> None:
    head = (f"{'impl':<18} {'N':>5} {'wall s':>8} {'cpu s':>8} {'compile s':>9} "
            f"{'syn ev/s':>9} {'sim/wall':>8} {'exc spk':>8} {'in spk':>8} {'B/syn':>6}")
    print(head)
    print("-" * len(head))
    for r in rows:
        cpu = f"{r['cpu_s']:>8.3f}" if "cpu_s" in r else f"{'-':>8}"
        print(f"{r['impl']:<18} {r['n_exc']:>5} {r['wall_s']:>8.3f} {cpu} {r['compile_s']:>9.2f} "
              f"{r['syn_events_per_s']:>9.2e} {r['sim_over_wall']:>8.2f} "
              f"{r['exc_spikes']:>8.0f} {r['input_spikes']:>8.0f} "
              f"{r.get('bytes_per_synapse', float('nan')):>6.1f}")


def evaluate_goals(rows: list[dict]) -> list[dict]:
    by = {(r["impl"], r["n_exc"]): r for r in rows}
    goals = []
    for n in (400, 1600):
        a, b = by.get(("neuromem", n)), by.get(("brian2_standalone", n))
        if a and b:
            s = b["wall_s"] / a["wall_s"]
            goals.append({"goal": f"neuromem >= 2x faster than brian2_standalone at N={n}",
                          "value": round(s, 3), "pass": s >= 2.0})
    for n in sorted({r["n_exc"] for r in rows}):
        a, d = by.get(("neuromem", n)), by.get(("neuromem_device", n))
        if a and d:
            s = d["wall_s"] / a["wall_s"]
            goals.append({"goal": f"neuromem_device <= 1.5x slower than neuromem at N={n}",
                          "value": round(s, 3), "pass": s <= 1.5})
    for r in rows:
        if r["impl"].startswith("neuromem"):
            goals.append({"goal": f"{r['impl']} <= 16 bytes/synapse at N={r['n_exc']}",
                          "value": round(r["bytes_per_synapse"], 3),
                          "pass": r["bytes_per_synapse"] <= 16})
    return goals


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,400,1600",
                    help="excitatory population sizes (comma-separated)")
    ap.add_argument("--impls", default=DEFAULT_IMPLS, help=f"any of {', '.join(IMPLS)}")
    ap.add_argument("--samples", type=int, default=10, help="digit samples per run")
    ap.add_argument("--samples-for", default="",
                    help="per-implementation override, e.g. brian2_cython@1600=3 (comma-sep.)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per implementation")
    ap.add_argument("--agreement-runs", type=int, default=7,
                    help="extra untimed runs (fresh Poisson seeds) per implementation for the "
                         "statistical agreement test")
    ap.add_argument("--seed", type=int, default=0, help="initial weights and Poisson seeds")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--cold", action="store_true",
                    help="fresh numba and cython caches (compile times are cold compiles)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--worker-config", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker_main(args.worker, json.loads(args.worker_config))

    sizes = [int(s) for s in args.sizes.split(",") if s]
    impls = [s.strip() for s in args.impls.split(",") if s.strip()]
    bad = [i for i in impls if i not in IMPLS]
    if bad or not impls or not sizes:
        ap.error(f"unknown implementation(s) {bad}; choose from {IMPLS}")
    overrides = {}
    for item in filter(None, args.samples_for.split(",")):
        key, val = item.split("=")
        impl, n = key.split("@")
        overrides[(impl, int(n))] = int(val)

    tmp_root = Path(tempfile.mkdtemp(prefix="neuromem_bench_"))
    env = dict(os.environ)
    cython_cache = None
    if args.cold:
        env["NUMBA_CACHE_DIR"] = str(tmp_root / "numba_cache")
        cython_cache = str(tmp_root / "cython_cache")
    machine = machine_info()
    machine["loadavg_start"] = os.getloadavg()
    machine["cold_caches"] = bool(args.cold)
    machine["threads"] = ("all single-threaded: neuromem learning runs samples in order "
                          "(no prange); Brian2 standalone without OpenMP; cython runtime")
    rows, agree, raw = [], {}, {}
    t_start = time.perf_counter()
    try:
        for n in sizes:
            workers = {}
            for impl in impls:
                cfg = {"n_exc": n, "samples": overrides.get((impl, n), args.samples),
                       "seed": args.seed, "cython_cache": cython_cache,
                       "standalone_dir": str(tmp_root / f"standalone_{n}")}
                print(f"[N={n}] starting {impl} ({cfg['samples']} samples) ...", flush=True)
                workers[impl] = Worker(impl, cfg, env)
                workers[impl].cfg = cfg
                print(f"[N={n}] {impl} ready, compile {workers[impl].info['compile_s']:.2f} s",
                      flush=True)
            runs = {impl: [] for impl in impls}
            for r in range(args.repeats):
                order = impls[r % len(impls):] + impls[:r % len(impls)]
                for impl in order:
                    runs[impl].append(workers[impl].run(r))
                    print(f"[N={n}] repeat {r + 1}/{args.repeats} {impl}: "
                          f"{runs[impl][-1]['wall_s']:.3f} s", flush=True)
            extra = {impl: [] for impl in impls}
            for k in range(args.agreement_runs):
                for impl in impls:
                    if impl == "neuromem" or impl in BRIAN2_IMPLS:
                        extra[impl].append(workers[impl].run(args.repeats + k))
            for impl, w in workers.items():
                w.stop()
            for impl in impls:
                rows.append(summarize(impl, n, workers[impl].info, runs[impl],
                                      workers[impl].cfg["samples"]))
                raw[f"{impl}@{n}"] = runs[impl] + extra[impl]
            if "neuromem" in impls:
                rates, _ = workload(n, args.samples, args.seed)
                for impl in impls:
                    if impl in BRIAN2_IMPLS and workers[impl].cfg["samples"] == args.samples:
                        agree.setdefault(str(n), {})[impl] = agreement(
                            runs["neuromem"] + extra["neuromem"], runs[impl] + extra[impl],
                            rates)
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)

    # Bonferroni over the primary tests (input two-sample z, exc Welch) of this invocation.
    tests = [(a, k) for per_n in agree.values() for a in per_n.values()
             for k in ("input_p_two_sample", "exc_p_welch_run_means")]
    level = ALPHA / max(1, len(tests))
    for a, k in tests:
        a.setdefault("pass", True)
        if a[k] is None or a[k] < level:
            a["pass"] = False
    agreement_out = {
        "method": "Input spikes: two-sided z-test of the mean total input spikes per run, "
                  "with the exact Bernoulli(rate*dt) variance; also each implementation vs "
                  "the exact expectation. Excitatory spikes: Welch t-test on the mean spikes "
                  "per sample of each independent run (same images and initial weights, "
                  "fresh Poisson seed per run); Mann-Whitney on the pooled per-sample counts "
                  "is reported but not used (samples within a run are dependent). Pass: "
                  f"every primary p >= {ALPHA}/{max(1, len(tests))} (Bonferroni).",
        "alpha_familywise": ALPHA, "per_test_level": level,
        "passed": all(a["pass"] for per_n in agree.values() for a in per_n.values())
        if agree else None,
        "by_size": agree}

    speedup = {}
    by = {(r["impl"], r["n_exc"]): r for r in rows}
    for n in sizes:
        if ("neuromem", n) in by and ("brian2_standalone", n) in by:
            speedup[str(n)] = (by[("brian2_standalone", n)]["wall_s"]
                               / by[("neuromem", n)]["wall_s"])
    goals = evaluate_goals(rows)
    machine["loadavg_end"] = os.getloadavg()
    end_state = source_state()
    machine["engine_changed_during_run"] = (
        end_state["engine_sha256"] != machine["neuromem_source"]["engine_sha256"])
    machine["total_wall_s"] = time.perf_counter() - t_start

    print()
    print_table(rows)
    print("\nsyn ev/s = (input spikes x N + exc spikes x 784) / wall;  sim/wall = simulated s "
          "/ wall s;  spikes: per run (median)")
    if speedup:
        print("speedup vs brian2_standalone: " + ", ".join(f"N={k}: {v:.2f}x"
                                                         for k, v in speedup.items()))
    for n, per_n in agree.items():
        for impl, a in per_n.items():
            print(f"agreement N={n} neuromem vs {impl} ({a['runs'][0]}/{a['runs'][1]} runs): "
                  f"input spikes/run {a['input_spikes_per_run_mean'][0]:.0f} vs "
                  f"{a['input_spikes_per_run_mean'][1]:.0f} (expected "
                  f"{a['input_spikes_per_run_expected']:.0f}, p={a['input_p_two_sample']:.3f}); "
                  f"exc spikes/sample {a['exc_spikes_per_sample_mean'][0]:.2f} vs "
                  f"{a['exc_spikes_per_sample_mean'][1]:.2f} (Welch p="
                  f"{a['exc_p_welch_run_means']:.3g}) -> {'PASS' if a['pass'] else 'FAIL'}")
    for g in goals:
        print(f"{'PASS' if g['pass'] else 'FAIL'}  {g['goal']}  ({g['value']})")
    print(f"load average start {machine['loadavg_start']}, end {machine['loadavg_end']} "
          f"({machine['cpu_count']} cores)")
    src = machine["neuromem_source"]
    print(f"neuromem commit {src.get('commit')}"
          + (f", uncommitted changes: {src['modified']}" if src.get("modified") else ""))
    if machine["engine_changed_during_run"]:
        print("WARNING: neuromem/kernels/engine.py changed during the run: the sizes may have "
              "measured different engine versions")

    out = {"rows": rows, "speedup_vs_brian2_standalone": speedup, "agreement": agreement_out,
           "goals": goals, "machine": machine,
           "config": {"sizes": sizes, "impls": impls, "samples": args.samples,
                      "samples_for": {f"{k[0]}@{k[1]}": v for k, v in overrides.items()},
                      "repeats": args.repeats, "agreement_runs": args.agreement_runs,
                      "seed": args.seed, "dt_s": DT_S, "t_present_s": T_PRESENT_S,
                      "t_rest_s": T_REST_S, "max_rate_Hz": MAX_RATE_HZ, "neuron": NEURON,
                      "stdp": STDP, "w_max": W_MAX, "init": INIT, "device_card": DEVICE_CARD},
           "runs": raw}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
