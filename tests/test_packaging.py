"""Packaging: the wheel carries the cards; the README and CI agree; the CLI's faces."""

import json
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import neuromem
from neuromem.cards import list_cards

ROOT = Path(__file__).resolve().parents[1]


def _quickstart_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", section, flags=re.S)


def test_readme_quickstart_is_two_commands_and_ci_runs_the_second():
    commands = _quickstart_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines()
    assert "pytest" in commands[1] and "python3 -m venv" in commands[0]


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "neuromem", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_cli_version_and_devices():
    out = run_cli("--version")
    assert out.returncode == 0 and neuromem.__version__ in out.stdout
    out = run_cli("devices", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert {r["name"] for r in rows} == set(list_cards("synapse_models"))
    taox = next(r for r in rows if r["name"] == "taox_hfox_wu2018")
    assert taox["levels"] == "128" and taox["on_off"] == "10"


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path):
    out = run_cli("device", "show", "taox")
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "did you mean 'taox_hfox_wu2018'" in out.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('name="b"\nkind="pulse"\n[parameters]\ng_min_S=1e-6\ng_max_S=1e-5\n'
                   'levels=0\n')
    out = run_cli("device", "show", str(bad))
    assert out.returncode == 2 and "parameters.levels" in out.stderr and str(bad) in out.stderr
    assert "Traceback" not in out.stderr
    out = run_cli("--debug", "device", "show", str(bad))
    assert out.returncode != 0 and "Traceback" in out.stderr


def test_cli_device_show_lists_units_and_source():
    out = run_cli("device", "show", "ag_asi_jo2010")
    assert out.returncode == 0
    assert re.search(r"g_max_S\s+3\.84615e-08\s+S", out.stdout)
    assert "10.1021/nl904092h" in out.stdout


@pytest.mark.slow
def test_wheel_installs_cards_and_runs_outside_checkout(tmp_path):
    wheel_dir = tmp_path / "wheel"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                            str(wheel_dir), str(ROOT)], capture_output=True, text=True,
                           timeout=600)
    assert build.returncode == 0, build.stderr
    wheel = next(wheel_dir.glob("neuromem-*.whl"))
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, timeout=300)
    py = env / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, timeout=300)
    # Dependencies come from this environment's site-packages, added by a .pth file (which,
    # unlike a site dir, does not run this environment's editable-install hook).
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True)
    Path(site.stdout.strip(), "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    where = subprocess.run([str(py), "-c", "import neuromem; print(neuromem.__file__)"],
                           capture_output=True, text=True, cwd=outside, check=True)
    assert str(env) in where.stdout  # the wheel's copy, not the checkout
    out = subprocess.run([str(env / "bin" / "neuromem"), "devices", "--json"],
                         capture_output=True, text=True, cwd=outside, timeout=300)
    assert out.returncode == 0, out.stderr
    names = {r["name"] for r in json.loads(out.stdout)}
    assert names == set(list_cards("synapse_models")) and len(names) >= 8
    # network cards travel too: the quick digits run from the wheel, outside the checkout
    out = subprocess.run([str(env / "bin" / "neuromem"), "run", "digits_stdp", "--quick",
                          "--set", "data.n_train=100", "--json"], capture_output=True, text=True,
                         cwd=outside, timeout=900)
    assert out.returncode == 0, out.stderr
    assert 0.0 <= json.loads(out.stdout)["accuracy"] <= 1.0
    out = subprocess.run([str(py), "-m", "neuromem", "--version"], capture_output=True,
                         text=True, cwd=outside, timeout=300)
    assert out.returncode == 0 and "neuromem" in out.stdout
