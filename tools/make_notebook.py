"""Write a notebook from a plain-text source (cells separated by lines '# %%' / '# %% [markdown]').

Usage: python tools/make_notebook.py SOURCE.py NOTEBOOK.ipynb
The notebook is written without outputs (what git keeps).
"""

import sys

import nbformat


def build(source: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    chunks = source.split("# %%")
    for chunk in chunks[1:]:
        header, _, body = chunk.partition("\n")
        body = body.strip("\n")
        if header.strip() == "[markdown]":
            text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#")
                             for line in body.splitlines())
            nb.cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(body))
    return nb


if __name__ == "__main__":
    src, out = sys.argv[1], sys.argv[2]
    with open(src) as fh:
        nb = build(fh.read())
    nbformat.validate(nb)
    nbformat.write(nb, out)
