"""benchmarks/engine_vs_brian2.py with tiny settings: JSON structure and spike-count agreement.

Brian2 runs on its numpy target here: the cython target needs a cold compile of ~1.5 min on a
fresh machine, which a smoke test should not pay. Every Poisson seed in this configuration is
fixed (neuromem: run seeds; Brian2 runtime: ``brian2.seed``), so the agreement test is
deterministic, not flaky.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "engine_vs_brian2.py"
IMPLS = ("neuromem", "neuromem_device", "brian2_numpy")
N_EXC, SAMPLES = 20, 2


@pytest.mark.slow
@pytest.mark.brian2
def test_engine_vs_brian2_tiny_run_writes_results_and_agrees(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--sizes", str(N_EXC), "--samples", str(SAMPLES),
         "--repeats", "1", "--agreement-runs", "3", "--impls", ",".join(IMPLS),
         "--json", str(out)],
        capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    data = json.loads(out.read_text())

    assert {"rows", "speedup_vs_brian2_standalone", "agreement", "machine"} <= set(data)
    rows = {r["impl"]: r for r in data["rows"]}
    assert set(rows) == set(IMPLS)
    sim_s = SAMPLES * 0.5
    for impl, r in rows.items():
        assert r["n_exc"] == N_EXC
        for key in ("wall_s", "syn_events_per_s", "sim_over_wall", "exc_spikes", "compile_s"):
            assert math.isfinite(r[key]) and r[key] > 0, (impl, key, r[key])
        assert r["sim_over_wall"] == pytest.approx(sim_s / r["wall_s"], rel=1e-9)
        # One repeat: the medians are that run's values, so the definition holds exactly.
        events = r["input_spikes"] * N_EXC + r["exc_spikes"] * 784
        assert r["syn_events_per_s"] == pytest.approx(events / r["wall_s"], rel=1e-9)
        # 784 inputs at up to 63.75 Hz for 0.35 s per sample: thousands of input spikes.
        assert 1000 < r["input_spikes"] < 784 * 63.75 * 0.35 * SAMPLES
    for impl in ("neuromem", "neuromem_device"):
        assert 0 < rows[impl]["bytes_per_synapse"] <= 16
    assert data["speedup_vs_brian2_standalone"] == {}   # no standalone in this run

    agree = data["agreement"]
    assert agree["passed"] is True, json.dumps(agree, indent=1)
    a = agree["by_size"][str(N_EXC)]["brian2_numpy"]
    assert a["runs"] == [4, 4]
    for key in ("input_p_two_sample", "exc_p_welch_run_means",
                "exc_p_mannwhitney_pooled_samples"):
        assert 0.0 <= a[key] <= 1.0
    assert a["input_p_vs_expected"][0] > 1e-3 and a["input_p_vs_expected"][1] > 1e-3
    m_nm, m_b2 = a["exc_spikes_per_sample_mean"]
    assert m_nm > 0 and m_b2 > 0

    assert {g["goal"].split(" ")[0] for g in data["goals"]} >= {"neuromem", "neuromem_device"}
    assert data["machine"]["cpu_count"] >= 1 and "brian2" in data["machine"]
