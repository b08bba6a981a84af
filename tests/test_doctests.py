"""Every ``>>>`` example in the package runs and prints what it says (numpydoc Examples)."""

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import neuromem

PACKAGE = Path(neuromem.__file__).parent


def _modules_with_examples():
    names = ["neuromem"]
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="neuromem."):
        names.append(info.name)
    out = []
    for name in names:
        rel = name.split(".")[1:]
        path = PACKAGE.joinpath(*rel)
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        if path.is_file() and ">>>" in path.read_text(encoding="utf-8"):
            out.append(name)
    return out


MODULES = _modules_with_examples()
NEEDS = {"neuromem.brian.runtime": "brian2", "neuromem.sweep._dask": "distributed"}


def test_the_examples_were_found():
    assert {"neuromem", "neuromem.crossbar", "neuromem.energy", "neuromem.store"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name, tmp_path, monkeypatch):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name])
    monkeypatch.chdir(tmp_path)             # examples that write files write them here
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = finder.find(module, name)     # each runs in a copy of its module's globals
    assert tests, f"{name}: '>>>' in the source but no doctest found"
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
