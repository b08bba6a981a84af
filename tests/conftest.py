"""Shared fixtures: seeded generators, the CLI in a subprocess, the one-line error check,
sweep cards in a folder, small inference networks and a local Dask cluster."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def neuromem_cli():
    """``neuromem ARGS`` in a fresh interpreter: ``run(*args, timeout=600, **kw)`` returns
    the CompletedProcess with text stdout and stderr (``kw`` goes to subprocess.run)."""
    def run(*args, timeout=600, **kw):
        return subprocess.run([sys.executable, "-m", "neuromem", *map(str, args)],
                              capture_output=True, text=True, timeout=timeout, **kw)
    return run


@pytest.fixture
def one_line_error(capsys):
    """``check(code, expected_code)`` after an in-process ``neuromem.cli.main`` call: the exit
    code is the expected one and stderr is one ``neuromem: error:`` line without a
    traceback; returns stderr."""
    def check(code, expected_code):
        err = capsys.readouterr().err
        assert code == expected_code, err
        assert err.startswith("neuromem: error: ") and err.count("\n") == 1, err
        assert "Traceback" not in err and "internal error" not in err
        return err
    return check


@pytest.fixture(scope="session")
def write_card():
    """``write(folder, text, name="sweep.toml")``: the text as a file in folder; its path."""
    def write(folder: Path, text: str, name: str = "sweep.toml") -> Path:
        path = Path(folder) / name
        path.write_text(text)
        return path
    return write


@pytest.fixture(scope="session")
def assert_same_index():
    """``check(a, b)``: two sweep indexes (column -> array) have the same columns in the
    same order and equal values."""
    def check(a: dict, b: dict) -> None:
        assert list(a) == list(b)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    return check


@pytest.fixture(scope="session")
def inference_network():
    """``make(n_in, n_out, neuron, *, dt_s, t_present_s, ...)``: a one-layer engine network
    without plasticity: a crossbar of ``card`` drawn from ``layer_seed`` (``init`` weight
    range, or exactly ``weights`` (n_in, n_out) when given) and a population of ``neuron``."""
    from neuromem.cards import load_device
    from neuromem.layers import CrossbarLayer, Population
    from neuromem.network import Network
    from neuromem.plasticity import STDPParams

    def make(n_in, n_out, neuron, *, dt_s, t_present_s, t_rest_s=0.0, card="ideal",
             mapping="single", w_max=1.0, init=(0.0, 0.0), weights=None, layer_seed=0,
             seed=0):
        layer = CrossbarLayer(n_in, n_out, load_device(card).params,
                              np.random.default_rng(layer_seed), mapping=mapping, w_max=w_max,
                              init=init)
        if weights is not None:
            layer.set_weights(weights)
        return Network(layer, Population(n_out, neuron), STDPParams(rule="none"), dt_s=dt_s,
                       t_present_s=t_present_s, t_rest_s=t_rest_s, seed=seed)
    return make


class DaskCluster:
    """A Dask scheduler and one worker on 127.0.0.1, each in its own process session."""

    def __init__(self):
        self.procs = []

    def start(self, nthreads: int = 1) -> str:
        """Start them; returns the scheduler's address (tcp://127.0.0.1:PORT)."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        address = f"tcp://127.0.0.1:{port}"
        quiet = dict(start_new_session=True, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
        self.procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
             "--port", str(port), "--no-dashboard"], **quiet))
        self.procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "1",
             "--nthreads", str(nthreads), "--no-dashboard", "--host", "127.0.0.1"], **quiet))
        return address

    def stop(self) -> None:
        """Stop both process groups (SIGTERM, then SIGKILL after 15 s)."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=15)
        self.procs.clear()


@pytest.fixture
def dask_cluster():
    """A :class:`DaskCluster` (skipped without ``distributed``); stopped at teardown if the
    test did not stop it."""
    pytest.importorskip("distributed")
    cluster = DaskCluster()
    try:
        yield cluster
    finally:
        cluster.stop()
