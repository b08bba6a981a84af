#!/usr/bin/env python
"""Brian2 + neuromem's CrossbarSynapses against Brian2's own Synapses (Diehl & Cook network).

The workload is ``benchmarks/engine_vs_brian2.py``'s, built by its ``build_brian2`` (784
Poisson inputs from scikit-learn digits, N adaptive-threshold conductance LIF neurons, lateral
inhibition, pair STDP with all-to-all traces, learning on, 350 ms + 150 ms per sample, dt
0.5 ms). Implementations (Brian2 runtime mode, one worker process each):

``native_cython``  that network as written: input -> excitatory ``Synapses`` with pair STDP
                   in Brian2 code (cython target)
``bridge_cython``  the same network object with the STDP ``Synapses`` switched off
                   (``active = False``) and ``neuromem.brian.CrossbarSynapses`` (ideal card
                   by default, ``--card``) added in their place, plus a NetworkOperation
                   that resets the STDP traces at each sample start (as the native
                   network's ``run_regularly`` does)
``export_cython``  (optional) the crossbar exported with ``to_brian2_synapses`` (Brian2
                   code with the device model)
``bridge_numpy``, ``native_numpy``, ``export_numpy``  (optional) the numpy target

Timing: the median wall time of ``Network.run`` over ``--repeats`` runs after a warm-up run
(cython compilation or cache load, numba cache load); each repeat restores the initial state
(``Network.restore``, which includes the crossbar) and seeds Brian2's generator with the
repeat's seed, so every implementation sees the same Poisson input spikes in a repeat. With
the ideal card the bridge and the native network are then the same computation: their
excitatory spike trains must be identical and the final weights equal to round-off, which
this script checks and reports (``agreement``).

Run ``python benchmarks/bridge_vs_brian2.py --help``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine_vs_brian2 as ref  # noqa: E402  (the workload, shared with the engine benchmark)

IMPLS = ("bridge_cython", "native_cython", "export_cython", "bridge_numpy", "native_numpy",
         "export_numpy")
DEFAULT_IMPLS = "bridge_cython,native_cython"
GOAL_N, GOAL_SPEEDUP = 400, 1.5


def _spike_digest(steps: np.ndarray, idx: np.ndarray) -> str:
    order = np.lexsort((idx, steps))
    pairs = np.column_stack([steps[order], idx[order]]).astype(np.int64)
    return hashlib.sha256(pairs.tobytes()).hexdigest()[:16]


class Runner:
    """One implementation at one size, in its own process."""

    def __init__(self, cfg: dict, impl: str):
        import brian2 as b2

        self.b2 = b2
        self.cfg = cfg
        self.impl = impl
        kind, target = impl.split("_")
        self.kind = kind
        b2.prefs.logging.console_log_level = "WARNING"
        b2.prefs.codegen.target = target
        if cfg.get("cython_cache") and target == "cython":
            b2.prefs.codegen.runtime.cython.cache_dir = cfg["cython_cache"]
        t0 = time.perf_counter()
        rates, w0 = ref.workload(cfg["n_exc"], cfg["samples"], cfg["seed"])
        self.obj = ref.build_brian2(b2, rates, w0)
        net = self.obj["net"]
        self.layer = None
        if kind in ("bridge", "export"):
            self._swap_in_crossbar(w0)
        net.store("initial")
        t1 = time.perf_counter()
        net.run(20 * b2.ms, namespace={})   # compiles (or loads) every code object
        self.compile_s = time.perf_counter() - t1
        self.setup_s = time.perf_counter() - t0

    def _swap_in_crossbar(self, w0):
        from neuromem.brian import CrossbarSynapses, to_brian2_synapses
        from neuromem.cards import load_device
        from neuromem.layers import CrossbarLayer
        from neuromem.plasticity import STDPParams

        b2 = self.b2
        net, exc = self.obj["net"], self.obj["exc"]
        inputs = net["inputs"]
        # Switched off, not removed: Brian2 lists it among the input group's contained
        # objects, so Network.remove would leave it running.
        self.obj["stdp"].active = False
        device = load_device(self.cfg["card"]).params
        layer = CrossbarLayer(ref.N_IN, self.cfg["n_exc"], device,
                              np.random.default_rng([self.cfg["seed"], self.cfg["n_exc"], 1]),
                              w_max=ref.W_MAX, init=ref.INIT)
        layer.set_weights(w0)
        stdp = STDPParams(rule="pair", weight_dependence="additive", trace="all_to_all",
                          **ref.STDP)
        if self.kind == "bridge":
            syn = CrossbarSynapses(inputs, exc, layer, "ge", stdp=stdp, seed=self.cfg["seed"],
                                   name="crossbar")
            reset = b2.NetworkOperation(syn.reset_traces, dt=ref.SAMPLE_S * b2.second,
                                        when="start", name="crossbar_sample_reset")
            net.add(syn, reset)
        else:
            syn = to_brian2_synapses(layer, inputs, exc, stdp, allow_random=True,
                                     name="crossbar")
            syn.run_regularly("apre = 0; apost = 0", dt=ref.SAMPLE_S * b2.second,
                              when="start", name="crossbar_sample_reset")
            net.add(syn)
        self.layer, self.syn = layer, syn

    def info(self) -> dict:
        if self.kind == "native":
            bps = ref.brian2_bytes_per_synapse(self.b2, self.obj["stdp"])
        elif self.kind == "bridge":
            bps = self.layer.memory_bytes() / (self.layer.n_in * self.layer.n_out)
        else:
            bps = ref.brian2_bytes_per_synapse(self.b2, self.syn)
        return {"compile_s": self.compile_s, "setup_s": self.setup_s,
                "compile_note": "warm-up run of 20 ms: cython compilation (cold cache) or "
                                "cache load, numba cache load",
                "bytes_per_synapse": bps, "card": self.cfg["card"]
                if self.kind != "native" else None}

    def weights(self) -> np.ndarray:
        if self.kind == "native":
            return np.asarray(self.obj["stdp"].w[:]).reshape(ref.N_IN, -1)
        if self.kind == "export":
            from neuromem.brian import copy_conductances
            copy_conductances(self.syn, self.layer)
        return self.layer.weights()

    def run(self, run_id: int) -> dict:
        b2 = self.b2
        net = self.obj["net"]
        net.restore("initial")
        b2.seed(int(np.random.SeedSequence([self.cfg["seed"], self.cfg["n_exc"],
                                            run_id]).generate_state(1)[0]))
        c0 = time.process_time()
        t0 = time.perf_counter()
        net.run(self.obj["duration"], namespace={})
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        steps_in = np.round(np.asarray(self.obj["mon_in"].t_) / ref.DT_S).astype(np.int64)
        steps_exc = np.round(np.asarray(self.obj["mon_exc"].t_) / ref.DT_S).astype(np.int64)
        w = self.weights()
        out = {"wall_s": wall, "cpu_s": cpu,
               "in_per_sample": ref.per_sample(steps_in, self.cfg["samples"]),
               "exc_per_sample": ref.per_sample(steps_exc, self.cfg["samples"]),
               "in_digest": _spike_digest(steps_in, np.asarray(self.obj["mon_in"].i[:])),
               "exc_digest": _spike_digest(steps_exc, np.asarray(self.obj["mon_exc"].i[:])),
               "mean_w_end": float(w.mean()),
               "w_end_sample": w[::97, ::7].ravel().tolist()}
        if self.kind == "bridge":
            out["pulses"] = {k: v for k, v in self.syn.events.items() if "pulses" in k}
        return out


def worker_main(impl: str, cfg: dict) -> int:
    """Worker process (the engine benchmark's protocol) running this script's Runner."""
    return ref.worker_main(impl, cfg, make=lambda impl, cfg: Runner(cfg, impl))


class Worker(ref.Worker):
    """Driver-side handle of a worker process running this script."""

    def __init__(self, impl: str, cfg: dict, env: dict):
        self.impl = impl
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", impl,
             "--worker-config", json.dumps(cfg)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.info = self._recv()["ready"]


def summarize(impl: str, n_exc: int, info: dict, runs: list[dict], n_samples: int) -> dict:
    walls = [r["wall_s"] for r in runs]
    row = {"impl": impl, "n_exc": n_exc, "wall_s": ref.median(walls), "wall_s_all": walls,
           "cpu_s": ref.median([r["cpu_s"] for r in runs]),
           "sim_over_wall": n_samples * ref.SAMPLE_S / ref.median(walls),
           "exc_spikes": ref.median([sum(r["exc_per_sample"]) for r in runs]),
           "input_spikes": ref.median([sum(r["in_per_sample"]) for r in runs]),
           "mean_w_end": ref.median([r["mean_w_end"] for r in runs]),
           "repeats": len(runs), "samples": n_samples,
           "loadavg_1min": [r["loadavg"] for r in runs]}
    row.update(info)
    return row


def agreement(runs_a: list[dict], runs_b: list[dict]) -> dict:
    """Same repeats (same Poisson seeds): identical inputs; identical outputs when exact."""
    same_in = [a["in_digest"] == b["in_digest"] for a, b in zip(runs_a, runs_b)]
    same_exc = [a["exc_digest"] == b["exc_digest"] for a, b in zip(runs_a, runs_b)]
    w_diff = [float(np.max(np.abs(np.subtract(a["w_end_sample"], b["w_end_sample"]))))
              for a, b in zip(runs_a, runs_b)]
    return {"runs": len(same_in), "identical_input_spikes": sum(same_in),
            "identical_exc_spikes": sum(same_exc), "max_abs_w_diff_sampled": max(w_diff),
            "exc_spikes": [[sum(a["exc_per_sample"]) for a in runs_a],
                           [sum(b["exc_per_sample"]) for b in runs_b]]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,400", help="excitatory population sizes")
    ap.add_argument("--impls", default=DEFAULT_IMPLS, help=f"any of {', '.join(IMPLS)}")
    ap.add_argument("--samples", type=int, default=10, help="digit samples per run")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per implementation")
    ap.add_argument("--card", default="ideal",
                    help="device card of the crossbar (ideal: exactly the native network)")
    ap.add_argument("--seed", type=int, default=0, help="initial weights and Poisson seeds")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--cold", action="store_true", help="fresh numba and cython caches")
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
    tmp_root = Path(tempfile.mkdtemp(prefix="neuromem_bridge_bench_"))
    env = dict(os.environ)
    cython_cache = None
    if args.cold:
        env["NUMBA_CACHE_DIR"] = str(tmp_root / "numba_cache")
        cython_cache = str(tmp_root / "cython_cache")
    machine = ref.machine_info()
    machine["loadavg_start"] = os.getloadavg()
    machine["cold_caches"] = bool(args.cold)
    rows, agree, raw = [], {}, {}
    t_start = time.perf_counter()
    try:
        for n in sizes:
            workers = {}
            for impl in impls:
                cfg = {"n_exc": n, "samples": args.samples, "seed": args.seed,
                       "card": args.card, "cython_cache": cython_cache}
                print(f"[N={n}] starting {impl} ...", flush=True)
                workers[impl] = Worker(impl, cfg, env)
                print(f"[N={n}] {impl} ready, compile {workers[impl].info['compile_s']:.2f} s",
                      flush=True)
            runs = {impl: [] for impl in impls}
            for r in range(args.repeats):
                order = impls[r % len(impls):] + impls[:r % len(impls)]
                for impl in order:
                    runs[impl].append(workers[impl].run(r))
                    print(f"[N={n}] repeat {r + 1}/{args.repeats} {impl}: "
                          f"{runs[impl][-1]['wall_s']:.3f} s", flush=True)
            for w in workers.values():
                w.stop()
            for impl in impls:
                rows.append(summarize(impl, n, workers[impl].info, runs[impl], args.samples))
                raw[f"{impl}@{n}"] = runs[impl]
            for kind in ("bridge", "export"):
                for target in ("cython", "numpy"):
                    a, b = f"native_{target}", f"{kind}_{target}"
                    if a in impls and b in impls:
                        agree.setdefault(str(n), {})[f"{b}_vs_{a}"] = agreement(runs[a],
                                                                               runs[b])
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)

    by = {(r["impl"], r["n_exc"]): r for r in rows}
    speedup = {}
    for n in sizes:
        if ("bridge_cython", n) in by and ("native_cython", n) in by:
            speedup[str(n)] = by[("native_cython", n)]["wall_s"] / by[("bridge_cython", n)][
                "wall_s"]
    goals = []
    if str(GOAL_N) in speedup:
        goals.append({"goal": f"bridge_cython >= {GOAL_SPEEDUP}x faster than native_cython at "
                              f"N={GOAL_N}", "value": round(speedup[str(GOAL_N)], 3),
                      "pass": speedup[str(GOAL_N)] >= GOAL_SPEEDUP})
    if args.card == "ideal":
        for n, per_n in agree.items():
            for key, a in per_n.items():
                goals.append({"goal": f"{key} identical spike trains at N={n} (ideal card)",
                              "value": f"{a['identical_exc_spikes']}/{a['runs']}",
                              "pass": a["identical_exc_spikes"] == a["runs"]
                              and a["identical_input_spikes"] == a["runs"]})
    machine["loadavg_end"] = os.getloadavg()
    machine["total_wall_s"] = time.perf_counter() - t_start

    print()
    head = (f"{'impl':<15} {'N':>5} {'wall s':>8} {'cpu s':>8} {'compile s':>9} "
            f"{'sim/wall':>8} {'exc spk':>8} {'in spk':>8} {'B/syn':>6}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['impl']:<15} {r['n_exc']:>5} {r['wall_s']:>8.3f} {r['cpu_s']:>8.3f} "
              f"{r['compile_s']:>9.2f} {r['sim_over_wall']:>8.2f} {r['exc_spikes']:>8.0f} "
              f"{r['input_spikes']:>8.0f} {r['bytes_per_synapse']:>6.1f}")
    if speedup:
        print("speedup bridge_cython vs native_cython: "
              + ", ".join(f"N={k}: {v:.2f}x" for k, v in speedup.items()))
    for n, per_n in agree.items():
        for key, a in per_n.items():
            print(f"agreement N={n} {key}: identical inputs {a['identical_input_spikes']}/"
                  f"{a['runs']}, identical exc spikes {a['identical_exc_spikes']}/{a['runs']}, "
                  f"max |dw| (sampled) {a['max_abs_w_diff_sampled']:.2e}")
    for g in goals:
        print(f"{'PASS' if g['pass'] else 'FAIL'}  {g['goal']}  ({g['value']})")
    print(f"load average start {machine['loadavg_start']}, end {machine['loadavg_end']} "
          f"({machine['cpu_count']} cores)")

    out = {"rows": rows, "speedup_bridge_vs_native": speedup, "agreement": agree,
           "goals": goals, "machine": machine,
           "config": {"sizes": sizes, "impls": impls, "samples": args.samples,
                      "repeats": args.repeats, "card": args.card, "seed": args.seed,
                      "dt_s": ref.DT_S, "t_present_s": ref.T_PRESENT_S,
                      "t_rest_s": ref.T_REST_S, "max_rate_Hz": ref.MAX_RATE_HZ,
                      "neuron": ref.NEURON, "stdp": ref.STDP, "w_max": ref.W_MAX,
                      "init": ref.INIT},
           "runs": raw}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
