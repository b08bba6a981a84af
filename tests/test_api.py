"""The curated top-level API: what a notebook user reaches for, importable from neuromem."""

import subprocess
import sys

import pytest

import neuromem
from neuromem import exceptions


@pytest.mark.parametrize("name", [n for n in neuromem.__all__ if n != "__version__"])
def test_every_exported_name_is_the_object_of_its_home_module(name):
    import importlib
    obj = getattr(neuromem, name)
    home = importlib.import_module(obj.__module__)
    assert getattr(home, name, None) is obj or getattr(obj, "__name__", None) == name


def test_all_errors_are_exported_and_share_the_root():
    for name in exceptions.__all__:
        assert getattr(neuromem, name) is getattr(exceptions, name)
        assert issubclass(getattr(neuromem, name), neuromem.NeuromemError)
    assert "SimulationError" in neuromem.__all__


def test_the_notebook_objects_are_there():
    wanted = {"load_device", "load_model", "CrossbarLayer", "Population", "Network",
              "LIFParams", "STDPParams", "DeltaRuleParams", "PulseDevice", "CrossbarConfig"}
    assert wanted <= set(neuromem.__all__) and wanted <= set(dir(neuromem))
    with pytest.raises(AttributeError, match="no_such_thing"):
        neuromem.no_such_thing  # noqa: B018


def test_importing_neuromem_stays_light():
    """The command line starts by importing the package: no numba or h5py before use."""
    code = "import sys, neuromem; print('numba' in sys.modules, 'h5py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]
