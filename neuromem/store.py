"""HDF5 result files: one file per run, written atomically, read back as plain data.

:func:`write_result` writes a run to ``NAME.tmp`` beside ``NAME``, fsyncs it, ``os.replace``\\ s
it onto ``NAME`` and fsyncs the folder, so after a crash or ``kill -9`` ``NAME`` holds the old
complete file or the new complete one, never a damaged one (a stale ``NAME.tmp`` may remain;
the next write replaces it). :func:`read_result` returns a :class:`Result`; :func:`is_complete`
is the cheap check a resumed sweep makes; :func:`summarize` is what ``neuromem inspect`` prints.

Schema (``format_version`` 1)
-----------------------------
``/`` attrs: ``format = "neuromem-result"``, ``format_version = 1``, ``complete = True`` (last).

``/provenance`` attrs: ``neuromem_version``; ``git_commit`` (``git rev-parse HEAD`` if the
package sits in a git checkout, else None) and ``git_dirty`` (``git status --porcelain`` lists
anything); ``python_version``, ``numpy_version``, ``numba_version``, ``h5py_version``,
``scipy_version``, ``brian2_version`` (installed versions from :mod:`importlib.metadata`,
nothing imported; None if absent); ``platform``, ``seed``, ``command``, ``created_utc`` (ISO
8601 to the second, ``+00:00``), ``hostname``.

``/cards``: one scalar string dataset per card (``network``, ``device``, ``dataset``), the fully
resolved card as JSON.

``/metrics``, ``/events``, ``/state``: the caller's nested dicts. A dict becomes a subgroup
(events per phase: ``/events/train``, ``/events/test``), an array, list or tuple a dataset, a
scalar (bool, int, float, str, numpy scalar, None) an attribute. Arrays of
:data:`COMPRESS_MIN_BYTES` or more are chunked and gzip-compressed with the shuffle filter.

``/raster`` (optional): per-sample integer arrays ``(n_spikes, 2)`` of ``(step, neuron)``
concatenated in dataset ``spikes``; dataset ``offsets`` (``int64``, ``n_samples + 1``) says
where each sample starts; attr ``columns``.

``/snapshots`` (optional): arrays recorded during a run (conductances during training), one
dataset ``(n_snapshots, ...)`` each, one snapshot per chunk, compressed; a 1-D index dataset
named by the attr ``index_name`` (``sample``, ``step`` or ``time_s``).

``/extra`` (optional): a scalar string dataset, a free-form dict as JSON.

``/model`` (optional): everything inference needs to rebuild the trained network, as a nested
tree like ``/state`` (see :mod:`neuromem.model`, which owns its layout and its own
``model_format_version`` attribute).

None is stored as an empty attribute (``h5py.Empty``). Integers must fit 64 bits (a larger
seed is stored as a decimal string). Floats come back bit-exactly, arrays as ndarrays (lists of
strings as ``str`` arrays). Names may not contain ``/`` or NUL. JSON is written by
:func:`to_json`: non-finite floats are the tokens ``NaN``, ``Infinity``, ``-Infinity``, which
Python's ``json`` reads and strict parsers such as ``jq`` reject. Readers refuse a newer
``format_version``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import shlex
import socket
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from neuromem._files import atomic_write, disk_full
from neuromem._version import __version__
from neuromem.exceptions import StoreError

__all__ = ["FORMAT", "FORMAT_VERSION", "COMPRESS_MIN_BYTES", "Result", "Snapshots",
           "write_result", "read_result", "is_complete", "summarize", "to_json", "file_sha256"]

#: Value of the root attribute ``format``.
FORMAT = "neuromem-result"
#: Schema version this module writes and the newest it reads.
FORMAT_VERSION = 1
#: Arrays of at least this many bytes are stored chunked and gzip-compressed.
COMPRESS_MIN_BYTES = 32 * 1024
_GZIP = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
_TREES = ("metrics", "events", "state")
_VERSIONED = ("numpy", "numba", "h5py", "scipy", "brian2")
_RASTER_COLUMNS = ("step", "neuron")


class _Invalid(ValueError):
    """A value the schema cannot hold (reported as a StoreError naming the file)."""


@dataclasses.dataclass(frozen=True)
class Snapshots:
    """Arrays recorded at several points of a run, e.g. conductances during training.

    Parameters
    ----------
    index : ndarray, shape (n_snapshots,)
        When each snapshot was taken, in the unit `index_name` says.
    arrays : dict of str to ndarray
        Each of shape ``(n_snapshots, ...)``: ``arrays[name][k]`` was taken at ``index[k]``.
    index_name : str
        What the index counts: ``"sample"`` (default), ``"step"`` or ``"time_s"``.
    """

    index: np.ndarray
    arrays: dict[str, np.ndarray]
    index_name: str = "sample"


@dataclasses.dataclass(frozen=True)
class Result:
    """The contents of a result file as plain Python and numpy data.

    Attributes
    ----------
    path : Path
    format_version : int
    provenance : dict
        Who wrote the file, when, with which versions and seed (see the module docstring).
    cards : dict of str to object
        The resolved cards, parsed from JSON.
    metrics, events, state : dict
        Nested dicts of scalars and ndarrays, as written.
    raster, snapshots, extra : list of ndarray, Snapshots, dict, or None when not stored
    model : dict or None
        The ``/model`` tree (see :mod:`neuromem.model`), when the run stored one.
    """

    path: Path
    format_version: int
    provenance: dict[str, Any]
    cards: dict[str, Any]
    metrics: dict[str, Any]
    events: dict[str, Any]
    state: dict[str, Any]
    raster: list[np.ndarray] | None = None
    snapshots: Snapshots | None = None
    extra: dict[str, Any] | None = None
    model: dict[str, Any] | None = None


# --------------------------------------------------------------------------- encoding helpers

def _json_default(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=str)
    if callable(getattr(obj, "to_dict", None)):
        return obj.to_dict()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    raise TypeError(f"a {type(obj).__name__} cannot be written as JSON")


def to_json(obj: Any) -> str:
    """Encode `obj` as JSON the way result files do.

    Dicts, lists, numbers, strings, numpy scalars and arrays, paths, sets, dataclasses and
    objects with a ``to_dict()`` method (cards) nest freely; non-finite floats are written as
    ``NaN``, ``Infinity``, ``-Infinity``.

    Examples
    --------
    >>> to_json({"g": np.float32(0.5), "n": np.arange(3), "inf": float("inf")})
    '{"g": 0.5, "n": [0, 1, 2], "inf": Infinity}'
    """
    return json.dumps(obj, default=_json_default, allow_nan=True, ensure_ascii=False)


def _json(obj, where: str) -> str:
    try:
        return to_json(obj)
    except (TypeError, ValueError) as exc:
        raise _Invalid(f"{where}: {exc}") from exc


def _check_name(key, where: str) -> str:
    if not isinstance(key, str) or not key or "/" in key or "\0" in key or key in (".", ".."):
        raise _Invalid(f"{where}: {key!r} cannot be an HDF5 name (need a non-empty str "
                       "without '/' or NUL)")
    return key


def _attr_value(value, where: str):
    if value is None:
        return h5py.Empty("f8")
    if isinstance(value, (bool, np.bool_)):
        return np.bool_(value)
    if isinstance(value, np.generic) and value.dtype.kind in "iufc":
        return value
    if isinstance(value, int):
        for kind in (np.int64, np.uint64):
            if np.iinfo(kind).min <= value <= np.iinfo(kind).max:
                return kind(value)
        raise _Invalid(f"{where}: the integer {value} does not fit 64 bits")
    if isinstance(value, float):
        return np.float64(value)
    if isinstance(value, str):
        if "\0" in value:
            raise _Invalid(f"{where}: HDF5 strings cannot hold NUL characters")
        return str(value)
    raise _Invalid(f"{where}: cannot store a value of type {type(value).__name__}")


def _plain(value):
    """An attribute value as plain Python (numpy scalars unwrapped, Empty -> None)."""
    if isinstance(value, h5py.Empty):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _write_array(group, name: str, value, where: str, chunks=None):
    try:
        arr = np.asarray(value)
    except ValueError as exc:                   # ragged lists
        raise _Invalid(f"{where}: {exc}") from exc
    dtype = None
    if arr.dtype.kind == "U":
        arr, dtype = arr.astype(object), h5py.string_dtype()
    elif arr.dtype.kind not in "biufcS":
        raise _Invalid(f"{where}: cannot store an array of dtype {arr.dtype}")
    options = {}
    if arr.size and arr.ndim and (chunks is not None or arr.nbytes >= COMPRESS_MIN_BYTES):
        options = dict(_GZIP, chunks=chunks or True)
    group.create_dataset(name, data=arr, dtype=dtype, **options)


def _read_array(dataset) -> np.ndarray:
    if h5py.check_string_dtype(dataset.dtype) is not None:
        return np.asarray(dataset.asstr()[()], dtype=str)
    return np.asarray(dataset[()])


def _write_tree(group, mapping, where: str) -> None:
    if not isinstance(mapping, Mapping):
        raise _Invalid(f"{where}: expected a dict, got a {type(mapping).__name__}")
    for key, value in mapping.items():
        name = _check_name(key, where)
        here = f"{where}/{name}"
        if isinstance(value, Mapping):
            _write_tree(group.create_group(name, track_order=True), value, here)
        elif isinstance(value, (np.ndarray, list, tuple)):
            _write_array(group, name, value, here)
        else:
            group.attrs[name] = _attr_value(value, here)


def _read_tree(group) -> dict[str, Any]:
    out = {key: _plain(value) for key, value in group.attrs.items()}
    for name, obj in group.items():
        out[name] = _read_tree(obj) if isinstance(obj, h5py.Group) else _read_array(obj)
    return out


# --------------------------------------------------------------------------------- provenance

@functools.lru_cache(maxsize=1)
def _git_info() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout holding this package, or (None, None)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None, None
    try:
        def git(*args):
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()
        return git("rev-parse", "HEAD") or None, bool(git("status", "--porcelain"))
    except (OSError, subprocess.SubprocessError):
        return None, None


@functools.lru_cache(maxsize=None)
def _dist_version(name: str) -> str | None:
    """Installed version of a distribution (cached: looked up once per process)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _provenance(seed, command) -> dict[str, Any]:
    """The ``/provenance`` attributes of this process (see the module docstring)."""
    if seed is not None and not isinstance(seed, (int, np.integer)):
        raise _Invalid(f"seed: expected an int or None, got a {type(seed).__name__}")
    if command is None:
        command = sys.argv
    if not isinstance(command, str):
        command = shlex.join(str(part) for part in command)
    commit, dirty = _git_info()
    info = {"neuromem_version": __version__, "git_commit": commit, "git_dirty": dirty,
            "python_version": platform.python_version()}
    info.update({f"{name}_version": _dist_version(name) for name in _VERSIONED})
    seed = None if seed is None else int(seed)
    info.update(platform=platform.platform(),
                seed=str(seed) if seed is not None and abs(seed) >= 2**63 else seed,
                command=command,
                created_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                hostname=socket.gethostname())
    return info


# ------------------------------------------------------------------------------------ writing

def _raster_arrays(raster) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample spike arrays -> (concatenated spikes, offsets)."""
    samples = []
    for k, spikes in enumerate(raster):
        spikes = np.asarray(spikes)
        if spikes.size == 0:
            spikes = spikes.reshape(0, len(_RASTER_COLUMNS))
        if spikes.ndim != 2 or spikes.shape[1] != len(_RASTER_COLUMNS):
            raise _Invalid(f"raster[{k}]: expected shape (n_spikes, 2), got {spikes.shape}")
        if spikes.size and spikes.dtype.kind not in "iu":
            raise _Invalid(f"raster[{k}]: expected integers, got {spikes.dtype}")
        samples.append(spikes)
    typed = [s.dtype for s in samples if s.size]
    dtype = np.result_type(*typed) if typed else np.dtype(np.int64)
    offsets = np.zeros(len(samples) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in samples], out=offsets[1:])
    spikes = [s.astype(dtype, copy=False) for s in samples] or [np.zeros((0, 2), dtype)]
    return np.concatenate(spikes), offsets


def _write_snapshots(group, snapshots) -> None:
    if isinstance(snapshots, Mapping):
        snapshots = Snapshots(**snapshots)
    name = _check_name(snapshots.index_name, "snapshots.index_name")
    index = np.asarray(snapshots.index)
    if index.ndim != 1:
        raise _Invalid(f"snapshots.index: expected a 1-D array, got shape {index.shape}")
    group.attrs["index_name"] = name
    _write_array(group, name, index, "snapshots.index")
    for key, arr in snapshots.arrays.items():
        key, arr = _check_name(key, "snapshots"), np.asarray(arr)
        if key == name or arr.ndim < 1 or arr.shape[0] != len(index):
            raise _Invalid(f"snapshots/{key}: expected shape ({len(index)}, ...) and a name "
                           f"other than {name!r}, got shape {arr.shape}")
        per_snapshot = (1, *arr.shape[1:]) if arr.ndim > 1 else None
        _write_array(group, key, arr, f"snapshots/{key}", chunks=per_snapshot)


def _write_all(f, *, cards, trees, raster, snapshots, seed, command, extra, model=None) -> None:
    """Fill an open, empty file; ``complete`` is set last."""
    texts = {_check_name(name, "cards"): _json(card, f"card {name!r}")
             for name, card in (cards or {}).items()}
    if extra is not None and not isinstance(extra, Mapping):
        raise _Invalid(f"extra: expected a dict, got a {type(extra).__name__}")
    raster = None if raster is None else _raster_arrays(raster)

    f.attrs["format"] = FORMAT
    f.attrs["format_version"] = np.int64(FORMAT_VERSION)
    _write_tree(f.create_group("provenance", track_order=True), _provenance(seed, command),
                "provenance")
    group = f.create_group("cards", track_order=True)
    for name, text in texts.items():
        group.create_dataset(name, data=text, dtype=h5py.string_dtype())
    for name, tree in trees.items():
        _write_tree(f.create_group(name, track_order=True), tree, name)
    if raster is not None:
        group = f.create_group("raster", track_order=True)
        group.attrs["columns"] = list(_RASTER_COLUMNS)
        _write_array(group, "spikes", raster[0], "raster/spikes")
        _write_array(group, "offsets", raster[1], "raster/offsets")
    if snapshots is not None:
        _write_snapshots(f.create_group("snapshots", track_order=True), snapshots)
    if extra is not None:
        f.create_dataset("extra", data=_json(extra, "extra"), dtype=h5py.string_dtype())
    if model is not None:
        _write_tree(f.create_group("model", track_order=True), model, "model")
    f.attrs["complete"] = True


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def write_result(path, *, metrics: Mapping, cards: Mapping | None = None,
                 events: Mapping | None = None, state: Mapping | None = None,
                 raster=None, snapshots=None, seed: int | None = None, command=None,
                 extra: Mapping | None = None, model: Mapping | None = None) -> Path:
    """Write one run's results to `path`, atomically (see the module docstring).

    Parameters
    ----------
    path : str or path-like
        The result file (conventionally ``*.h5``); its folder must exist.
    metrics : dict
        Scalars (accuracy, energy in J) and arrays (confusion matrix); nested dicts allowed.
    cards : dict of str to object, optional
        The fully resolved cards by role (``network``, ``device``, ``dataset``): dicts or
        anything else :func:`to_json` encodes.
    events : dict, optional
        Event counts (``{"spikes": 1234}``), or per phase (``{"train": {...}, ...}``).
    state : dict, optional
        Final conductances and other arrays; nested dicts allowed.
    raster : sequence of array_like, optional
        Per-sample integer arrays of shape ``(n_spikes, 2)``: ``(step, neuron)``.
    snapshots : Snapshots or dict, optional
        Arrays recorded during the run (a dict holds the fields of :class:`Snapshots`).
    seed : int, optional
    command : str or sequence of str, optional
        The command line; default ``sys.argv``.
    extra : dict, optional
        Anything else :func:`to_json` encodes.
    model : dict, optional
        The trained network for inference (:func:`neuromem.model.model_tree`).

    Returns
    -------
    Path

    Raises
    ------
    StoreError
        If a value cannot be stored or writing fails (disk full, permissions). `path` is then
        untouched (an earlier file there stays as it was) and no ``.tmp`` file is left.
    """
    path = Path(path)
    try:
        if not path.parent.is_dir():
            raise _Invalid(f"the folder {path.parent} does not exist")
        with atomic_write(path, tmp_suffix=".tmp") as tmp, \
                h5py.File(tmp, "w", track_order=True) as f:
            _write_all(f, cards=cards, raster=raster, snapshots=snapshots, seed=seed,
                       command=command, extra=extra, model=model,
                       trees={"metrics": metrics, "events": events or {},
                              "state": state or {}})
            f.flush()
    except BaseException as exc:
        if not isinstance(exc, Exception):
            raise                               # KeyboardInterrupt, SystemExit: pass through
        reason = ("the disk is full (no space left on device)" if disk_full(exc)
                  else _one_line(exc))
        raise StoreError(f"cannot write result {path}: {reason}; nothing was written and any "
                         "earlier file at that path is unchanged") from exc
    return path


# ------------------------------------------------------------------------------------ reading

@contextlib.contextmanager
def _open_result(path: Path):
    """Open a complete result file of a readable version, or raise StoreError."""
    if not path.exists():
        raise StoreError(f"{path}: no such result file")
    try:
        f = h5py.File(path, "r")
    except Exception as exc:
        raise StoreError(f"{path}: not a readable HDF5 file (damaged, truncated or another "
                         f"format): {_one_line(exc)}") from exc
    with f:
        try:
            fmt, version, complete = (_plain(f.attrs.get(key))
                                      for key in ("format", "format_version", "complete"))
        except Exception as exc:
            raise StoreError(f"{path}: damaged result file: {_one_line(exc)}") from exc
        if fmt != FORMAT:
            raise StoreError(f"{path}: not a neuromem result (an HDF5 file without "
                             f"format = {FORMAT!r})")
        if not isinstance(version, int):
            raise StoreError(f"{path}: damaged result file (format_version is {version!r})")
        if version > FORMAT_VERSION:
            raise StoreError(f"{path}: written in result format {version}, newer than this "
                             f"neuromem {__version__} reads ({FORMAT_VERSION}); upgrade "
                             "neuromem to read it")
        if complete is not True:
            raise StoreError(f"{path}: incomplete result (the run writing it did not finish)")
        yield f, version


def read_result(path) -> Result:
    """Read a result file written by :func:`write_result`.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    Result

    Raises
    ------
    StoreError
        If the file is missing, not HDF5 (or truncated), not a neuromem result, incomplete,
        of a newer format version, or damaged inside.
    """
    path = Path(path)
    with _open_result(path) as (f, version):
        try:
            provenance = _read_tree(f["provenance"])
            if isinstance(provenance.get("seed"), str):
                provenance["seed"] = int(provenance["seed"])
            cards = {name: json.loads(ds.asstr()[()]) for name, ds in f["cards"].items()}
            trees = {name: _read_tree(f[name]) for name in _TREES}
            raster = snapshots = extra = model = None
            if "raster" in f:
                spikes, offsets = f["raster/spikes"][()], f["raster/offsets"][()]
                raster = [spikes[a:b].copy() for a, b in zip(offsets[:-1], offsets[1:])]
            if "snapshots" in f:
                group = f["snapshots"]
                index_name = _plain(group.attrs["index_name"])
                snapshots = Snapshots(
                    index=_read_array(group[index_name]), index_name=index_name,
                    arrays={k: _read_array(v) for k, v in group.items() if k != index_name})
            if "extra" in f:
                extra = json.loads(f["extra"].asstr()[()])
            if "model" in f:
                model = _read_tree(f["model"])
        except Exception as exc:
            raise StoreError(f"{path}: damaged result file: {_one_line(exc)}") from exc
    return Result(path=path, format_version=version, provenance=provenance, cards=cards,
                  raster=raster, snapshots=snapshots, extra=extra, model=model, **trees)


def is_complete(path) -> bool:
    """Whether `path` is a complete neuromem result file.

    Only the root attributes are read, so this is cheap. It never raises: a missing, damaged
    or foreign file gives False; a complete file of a newer format version gives True.
    """
    try:
        with h5py.File(path, "r") as f:
            return (_plain(f.attrs.get("format")) == FORMAT
                    and _plain(f.attrs.get("complete")) is True)
    except Exception:
        return False


def file_sha256(path) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits (what sweeps record per shard).

    Raises
    ------
    OSError
        If the file cannot be read.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ------------------------------------------------------------------------------------ summary

def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _text(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:,}" if isinstance(value, int) else f"{value:.6g}"
    return str(value)


def _tree_rows(group, prefix: str = "", *, storage: bool = False) -> list[tuple[str, str]]:
    """(name, description) rows of a tree, reading only small arrays."""
    rows = [(prefix + k, _text(_plain(v))) for k, v in group.attrs.items()]
    for name, obj in group.items():
        if isinstance(obj, h5py.Group):
            rows += _tree_rows(obj, f"{prefix}{name}/", storage=storage)
            continue
        text = f"{obj.dtype} {obj.shape}"
        if storage:
            text += f"  {_size(obj.nbytes)}"
            if obj.compression:
                text += f" -> {_size(obj.id.get_storage_size())} stored ({obj.compression})"
        elif 0 < obj.size <= 10 and obj.ndim <= 1:
            text = " ".join(_text(_plain(v)) for v in np.atleast_1d(_read_array(obj)))
        rows.append((prefix + name, text))
    return rows


def _table(title: str, rows: list[tuple[str, str]]) -> list[str]:
    if not rows:
        return [f"{title:<10}(none)"]
    width = max(len(name) for name, _ in rows)
    return [title] + [f"  {name:<{width}}  {text}" for name, text in rows]


def summarize(path) -> str:
    """A human-readable summary of a result file (what ``neuromem inspect FILE`` prints).

    Provenance, card names, metrics, event counts, state arrays (dtype, shape, size, stored
    size), raster and snapshot sizes, extra keys; no trailing newline. Large arrays are not
    read. Raises :class:`StoreError` as :func:`read_result` does.
    """
    path = Path(path)
    with _open_result(path) as (f, version):
        try:
            prov = _read_tree(f["provenance"])
            git = prov.get("git_commit")
            git = f", git {git[:12]}{' (dirty)' if prov.get('git_dirty') else ''}" if git else ""
            versions = ", ".join(f"{name} {prov.get(f'{name}_version') or '-'}"
                                 for name in ("python", *_VERSIONED))
            lines = [f"{path}  ({FORMAT} v{version}, {_size(path.stat().st_size)})",
                     f"created   {prov.get('created_utc')} on {prov.get('hostname')} by "
                     f"neuromem {prov.get('neuromem_version')}{git}",
                     f"seed      {prov.get('seed')}",
                     f"command   {prov.get('command')}",
                     f"versions  {versions}",
                     f"cards     {', '.join(f['cards']) or '(none)'}"]
            lines += _table("metrics", _tree_rows(f["metrics"]))
            lines += _table("events", _tree_rows(f["events"]))
            lines += _table("state", _tree_rows(f["state"], storage=True))
            if "raster" in f:
                n_samples = f["raster/offsets"].shape[0] - 1
                lines.append(f"raster    {n_samples:,} samples, "
                             f"{f['raster/spikes'].shape[0]:,} spikes")
            if "snapshots" in f:
                group = f["snapshots"]
                index_name = _plain(group.attrs["index_name"])
                index = group[index_name][()]
                span = f" ({index_name} {index[0]} .. {index[-1]})" if len(index) else ""
                lines.append(f"snapshots {len(index)}{span}")
                lines += [f"  {name}  {obj.dtype} {obj.shape}  {_size(obj.nbytes)}"
                          for name, obj in group.items() if name != index_name]
            if "extra" in f:
                extra = json.loads(f["extra"].asstr()[()])
                lines.append(f"extra     {', '.join(map(str, extra)) or '(empty)'}")
            if "model" in f:
                m = f["model"]
                layer = m["layer"].attrs if "layer" in m else {}
                names = m["label_names"].asstr()[()] if "label_names" in m else []
                lines.append(f"model     {_plain(m.attrs.get('task'))} (model format "
                             f"{_plain(m.attrs.get('model_format_version'))}): "
                             f"{_plain(layer.get('n_in'))} rows x {_plain(layer.get('n_out'))} "
                             f"columns, labels {', '.join(map(str, names))}; use it with "
                             f"neuromem evaluate / predict")
        except Exception as exc:
            raise StoreError(f"{path}: damaged result file: {_one_line(exc)}") from exc
    return "\n".join(lines)
