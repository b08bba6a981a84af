"""A sweep's merged ``results.h5``: built from the shards, read back as columns, summarised.

Schema (``format = "neuromem-sweep"``, ``format_version`` 1)
-----------------------------------------------------------
``/`` attrs: ``format``, ``format_version``, ``sweep_hash``, ``name``, ``network``,
``n_runs`` (in the manifest), ``n_complete``, ``n_failed``, ``n_pending``, ``created_utc``,
``neuromem_version``.

``/manifest``: scalar string dataset, the sweep's manifest as JSON without its run list (the
sweep card, the network card, ``fixed``, ``swept``...).

``/index``: one row per complete run, in manifest order; one 1-D dataset per column; attrs
``columns`` (all, in order), ``param_columns`` and ``metric_columns``. Columns: ``run_id``,
``replicate``, ``seed``; each swept key under its dotted name (``device.g_max_dtod``; a swept
``seed`` is the ``seed`` column); each scalar metric of the shards as ``metrics.NAME``
(nested metrics ``metrics.GROUP.NAME``). Column types: all booleans -> bool, all integers ->
int64, numbers -> float64 (a missing value is NaN), strings -> variable-length UTF-8 (missing:
``""``), anything else -> its canonical JSON as a string.

``/failed``: datasets ``run_id``, ``reason`` (``error``, ``worker_died`` or ``corrupt``),
``error``: runs with a record under ``failed/`` and no complete shard.
"""

from __future__ import annotations

import json
import statistics
from datetime import datetime, timezone
from pathlib import Path

import h5py
import numpy as np

from neuromem._files import atomic_write, disk_full
from neuromem._version import __version__
from neuromem.exceptions import StoreError
from neuromem.store import is_complete
from neuromem.sweep.card import canonical_json
from neuromem.sweep.layout import MANIFEST, RESULTS, read_manifest, shard_path, write_json_atomic

__all__ = ["FORMAT", "FORMAT_VERSION", "merge_results", "read_index", "summarize_sweep",
           "is_sweep_output"]

#: Value of the root attribute ``format`` of a merged sweep file.
FORMAT = "neuromem-sweep"
FORMAT_VERSION = 1
_ID_COLUMNS = ("run_id", "replicate", "seed")


def _plain(value):
    if isinstance(value, h5py.Empty):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _shard_metrics(group, prefix: str = "") -> dict:
    """Scalar metrics of a shard (attributes; nested groups give dotted names)."""
    out = {}
    for key, value in group.attrs.items():
        value = _plain(value)
        if value is None or isinstance(value, (bool, int, float, str)):
            out[prefix + key] = value
    for name, obj in group.items():
        if isinstance(obj, h5py.Group):
            out.update(_shard_metrics(obj, f"{prefix}{name}."))
    return out


def _column(values: list) -> tuple[np.ndarray, object]:
    """(array, h5py dtype or None) for one column's values (see the module docstring)."""
    present = [v for v in values if v is not None]
    full = len(present) == len(values)
    if present and all(isinstance(v, bool) for v in present):
        if full:
            return np.array(values, dtype=bool), None
        return np.array([np.nan if v is None else float(v) for v in values]), None
    numbers = [v for v in present if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if present and len(numbers) == len(present):
        if full and all(isinstance(v, int) and -2**63 <= v < 2**63 for v in values):
            return np.array(values, dtype=np.int64), None
        return np.array([np.nan if v is None else float(v) for v in values]), None
    if all(isinstance(v, str) for v in present):
        texts = ["" if v is None else v for v in values]
    else:
        texts = ["" if v is None else v if isinstance(v, str) else canonical_json(v)
                 for v in values]
    return np.array(texts, dtype=object), h5py.string_dtype()


def _failure_record(folder: Path, run_id: str) -> dict | None:
    path = folder / "failed" / f"{run_id}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"run_id": run_id, "reason": "unknown", "error": f"unreadable record {path}"}


def merge_results(folder) -> Path:
    """Build ``FOLDER/results.h5`` from the manifest, the shards and the failure records.

    Only shards of runs in the manifest are read (their scalar metrics), so the file can be
    rebuilt at any time. Each shard with a recorded checksum (:mod:`neuromem.sweep.ledger`)
    is hashed first: a corrupt one is moved aside, recorded under ``failed/`` with reason
    ``corrupt`` and left out of the index. The file is written to ``results.h5.tmp``,
    fsynced and ``os.replace``\\ d.

    Returns
    -------
    Path

    Raises
    ------
    StoreError
        If the manifest or a complete shard cannot be read, or the file cannot be written
        (disk full); an earlier ``results.h5`` is then unchanged.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    swept = list(manifest["swept"])
    runs = manifest["runs"]
    from neuromem.sweep.ledger import check_shard, checksums, quarantine

    sums = checksums(folder, manifest)
    rows, failed = [], []
    for run in runs:
        shard = shard_path(folder, run["run_id"])
        state = check_shard(shard, sums.get(run["run_id"])) if shard.exists() else "missing"
        if state == "corrupt":
            quarantine(shard)
            record = {"run_id": run["run_id"], "reason": "corrupt",
                      "error": f"the shard's SHA-256 differs from the one recorded when it "
                               f"was committed (moved to {shard.name}.corrupt); --resume "
                               "reruns it", **run}
            write_json_atomic(folder / "failed" / f"{run['run_id']}.json", record)
            failed.append(record)
            continue
        if state in ("ok", "late"):
            try:
                with h5py.File(shard, "r") as f:
                    metrics = _shard_metrics(f["metrics"])
            except Exception as exc:
                raise StoreError(f"{shard}: cannot read its metrics: "
                                 f"{' '.join(str(exc).split())}") from exc
            rows.append((run, metrics))
        else:
            record = _failure_record(folder, run["run_id"])
            if record is not None:
                failed.append(record)
    metric_names: dict[str, None] = {}
    for _, metrics in rows:
        metric_names.update(dict.fromkeys(metrics))

    columns: dict[str, tuple[np.ndarray, object]] = {
        "run_id": (np.array([r["run_id"] for r, _ in rows], dtype=object), h5py.string_dtype()),
        "replicate": (np.array([r["replicate"] for r, _ in rows], dtype=np.int64), None),
        "seed": (np.array([r["seed"] for r, _ in rows], dtype=np.int64), None)}
    complete = {r["run_id"] for r, _ in rows}
    param_columns = [key for key in swept if key not in _ID_COLUMNS]
    for key in param_columns:
        array, dtype = _column([r["params"].get(key) for r in runs])   # dtype from all runs
        keep = np.array([r["run_id"] in complete for r in runs], dtype=bool)
        columns[key] = (array[keep], dtype)
    metric_columns = [f"metrics.{name}" for name in metric_names]
    for name, column in zip(metric_names, metric_columns):
        columns[column] = _column([metrics.get(name) for _, metrics in rows])

    path = folder / RESULTS
    header = {k: v for k, v in manifest.items() if k != "runs"}
    try:
        with atomic_write(path, tmp_suffix=".tmp") as tmp, \
                h5py.File(tmp, "w", track_order=True) as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = np.int64(FORMAT_VERSION)
            f.attrs["sweep_hash"] = str(manifest["sweep_hash"])
            f.attrs["name"] = str(manifest.get("name", ""))
            f.attrs["network"] = str(manifest.get("network", ""))
            f.attrs["n_runs"] = np.int64(len(runs))
            f.attrs["n_complete"] = np.int64(len(rows))
            f.attrs["n_failed"] = np.int64(len(failed))
            f.attrs["n_pending"] = np.int64(len(runs) - len(rows) - len(failed))
            f.attrs["created_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            f.attrs["neuromem_version"] = __version__
            f.create_dataset("manifest", data=json.dumps(header, default=str),
                             dtype=h5py.string_dtype())
            index = f.create_group("index", track_order=True)
            index.attrs["columns"] = list(columns)
            index.attrs["param_columns"] = param_columns
            index.attrs["metric_columns"] = metric_columns
            for name, (array, dtype) in columns.items():
                index.create_dataset(name, data=array, dtype=dtype)
            group = f.create_group("failed", track_order=True)
            for key in ("run_id", "reason", "error"):
                group.create_dataset(key, data=np.array([str(r.get(key, "")) for r in failed],
                                                        dtype=object),
                                     dtype=h5py.string_dtype())
    except Exception as exc:
        text = ("the disk is full (no space left on device)" if disk_full(exc)
                else " ".join(str(exc).split()))
        raise StoreError(f"cannot write {path}: {text}; the shards are unchanged") from exc
    return path


# -------------------------------------------------------------------------------- reading

def _open_merged(path: Path) -> h5py.File:
    try:
        f = h5py.File(path, "r")
    except Exception as exc:
        raise StoreError(f"{path}: not a readable HDF5 file: {' '.join(str(exc).split())}") \
            from exc
    if _plain(f.attrs.get("format")) != FORMAT:
        f.close()
        raise StoreError(f"{path}: not a merged sweep file (format = {FORMAT!r})")
    version = _plain(f.attrs.get("format_version"))
    if not isinstance(version, int) or version > FORMAT_VERSION:
        f.close()
        raise StoreError(f"{path}: sweep format {version!r}, newer than this neuromem "
                         f"{__version__} reads ({FORMAT_VERSION})")
    return f


def read_index(path) -> dict[str, np.ndarray]:
    """The index table of a merged ``results.h5`` (or of a sweep folder's) as columns.

    Returns
    -------
    dict of str to ndarray
        Ordered as the file's ``columns``; strings as ``str`` arrays. ``pandas.DataFrame(...)``
        of it is the table.
    """
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS
    with _open_merged(path) as f:
        index = f["index"]
        out = {}
        for name in index.attrs["columns"]:
            ds = index[str(name)]
            if h5py.check_string_dtype(ds.dtype) is not None:
                out[str(name)] = np.asarray(ds.asstr()[()], dtype=str)
            else:
                out[str(name)] = ds[()]
    return out


def is_sweep_output(path) -> bool:
    """Whether `path` is a sweep folder (holds a manifest) or a merged sweep file."""
    path = Path(path)
    if path.is_dir():
        return (path / MANIFEST).is_file()
    try:
        with h5py.File(path, "r") as f:
            return _plain(f.attrs.get("format")) == FORMAT
    except Exception:
        return False


# -------------------------------------------------------------------------------- summary

def _text(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    return str(value)


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _folder_progress(folder: Path) -> str:
    manifest = read_manifest(folder)
    runs = manifest["runs"]
    saved = sum(is_complete(shard_path(folder, r["run_id"])) for r in runs)
    failed = sum((folder / "failed" / f"{r['run_id']}.json").is_file() for r in runs)
    return (f"{folder}  (sweep {manifest.get('name')}, not merged yet)\n"
            f"runs      {saved} of {len(runs)} saved, {failed} failed\n"
            f"continue  neuromem sweep {manifest.get('sweep_card')} -o {folder} --resume")


def summarize_sweep(path, *, max_points: int = 20) -> str:
    """A human-readable summary of a merged sweep file or a sweep folder.

    What ``neuromem inspect`` prints for them: the sweep, run counts, swept values, each
    numeric metric's mean, SD, min and max, a per-point table (means over replicates) and
    the failed runs. No trailing newline.
    """
    path = Path(path)
    if path.is_dir():
        if not (path / RESULTS).is_file():
            return _folder_progress(path)
        path = path / RESULTS
    with _open_merged(path) as f:
        attrs = {k: _plain(v) for k, v in f.attrs.items()}
        header = json.loads(f["manifest"].asstr()[()])
        failed = {k: list(f["failed"][k].asstr()[()]) for k in ("run_id", "reason", "error")}
    index = read_index(path)
    params = [c for c in header.get("swept", []) if c in index]
    metrics = [c for c in index if c.startswith("metrics.")
               and index[c].dtype.kind in "biuf" and index[c].size]
    fixed = ", ".join(f"{k}={canonical_json(v)}" for k, v in header.get("fixed", {}).items())
    lines = [f"{path}  ({FORMAT} v{attrs.get('format_version')}, {_size(path.stat().st_size)})",
             f"sweep     {attrs.get('name')}: {header.get('mode')} on {attrs.get('network')}, "
             f"{header.get('n_points')} points x {header.get('replicates')} replicates, "
             f"base_seed {header.get('base_seed')}{', quick' if header.get('quick') else ''}",
             f"hash      {str(attrs.get('sweep_hash'))[:16]}",
             f"created   {attrs.get('created_utc')} by neuromem {attrs.get('neuromem_version')}",
             f"runs      {attrs.get('n_complete')} complete, {attrs.get('n_failed')} failed, "
             f"{attrs.get('n_pending')} pending (of {attrs.get('n_runs')})",
             f"fixed     {fixed or '(none)'}"]
    for key in params:
        values = list(dict.fromkeys(index[key].tolist()))
        shown = ", ".join(_text(v) for v in values[:8]) + (" ..." if len(values) > 8 else "")
        lines.append(f"swept     {key}: {shown}")
    if metrics:
        width = max(len(m) for m in metrics) - len("metrics.")
        lines.append(f"metrics   (over complete runs)\n  {'':<{width}}  {'mean':>10} {'sd':>10} "
                     f"{'min':>10} {'max':>10}")
        for m in metrics:
            col = index[m].astype(float)
            col = col[np.isfinite(col)]
            if not col.size:
                continue
            sd = statistics.stdev(col.tolist()) if col.size > 1 else 0.0
            lines.append(f"  {m.removeprefix('metrics.'):<{width}}  {col.mean():>10.4g} "
                         f"{sd:>10.4g} {col.min():>10.4g} {col.max():>10.4g}")
    if params and metrics:
        shown_metrics = sorted(metrics, key=lambda m: m != "metrics.accuracy")[:3]
        groups: dict[tuple, list[int]] = {}
        for i in range(len(index["run_id"])):
            groups.setdefault(tuple(index[k][i].item() for k in params), []).append(i)
        lines.append("points    (mean over replicates)")
        head = params + ["n"] + [m.removeprefix("metrics.") for m in shown_metrics]
        table = [head]
        for point, rows in list(groups.items())[:max_points]:
            table.append([_text(v) for v in point] + [str(len(rows))] +
                         [_text(float(np.nanmean(index[m][rows].astype(float))))
                          for m in shown_metrics])
        widths = [max(len(r[i]) for r in table) for i in range(len(head))]
        lines += ["  " + "  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in table]
        if len(groups) > max_points:
            lines.append(f"  ... {len(groups) - max_points} more points")
    if failed["run_id"]:
        lines.append("failed")
        for run_id, reason, error in list(zip(*failed.values()))[:10]:
            lines.append(f"  {run_id}  {reason}: {error}")
        if len(failed["run_id"]) > 10:
            lines.append(f"  ... {len(failed['run_id']) - 10} more (see failed/)")
    return "\n".join(lines)
