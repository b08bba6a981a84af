"""Every notebook runs top to bottom (quick setting) and is stored without outputs."""

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, path.name
    assert nb.cells[0].cell_type == "markdown"   # opens with what it shows
    assert nb.cells[-1].cell_type == "markdown"  # ends with what to conclude


@pytest.mark.notebooks
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("NEUROMEM_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors


SOURCES = sorted((ROOT / "notebooks" / "src").glob("*.py"))


def _make_notebook():
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_notebook",
                                                  ROOT / "tools" / "make_notebook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_notebook_has_a_source_and_every_source_a_notebook():
    assert [p.stem for p in SOURCES] == [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("src", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_is_rebuilt_from_its_source(src):
    """``python tools/make_notebook.py notebooks/src/X.py notebooks/X.ipynb`` gives the stored
    notebook: same cells, same kinds, same text (cell ids are random and not compared)."""
    built = _make_notebook().build(src.read_text())
    stored = nbformat.read(ROOT / "notebooks" / f"{src.stem}.ipynb", as_version=4)
    assert [(c.cell_type, c.source) for c in built.cells] == \
        [(c.cell_type, c.source) for c in stored.cells], \
        f"rebuild: python tools/make_notebook.py {src.relative_to(ROOT)} {src.stem}.ipynb"
    assert stored.metadata.get("kernelspec") == built.metadata["kernelspec"]
