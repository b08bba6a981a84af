"""The layout of a sweep folder: file names, shard paths, the manifest (read and written).

Shared by the driver, the results merge and the ledger, so none of them imports another::

    FOLDER/manifest.json            the sweep: cards, runs, seeds (MANIFEST)
    FOLDER/runs/<2 hex>/<run>.h5    one shard per finished run (shard_path)
    FOLDER/results.h5               the merged index (RESULTS)
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from neuromem._files import atomic_write, disk_full
from neuromem._version import __version__
from neuromem.exceptions import StoreError

__all__ = ["MANIFEST", "RESULTS", "MANIFEST_FORMAT", "shard_path", "utc_now",
           "write_json_atomic", "read_manifest", "manifest_of"]

MANIFEST = "manifest.json"
RESULTS = "results.h5"
MANIFEST_FORMAT = "neuromem-sweep-manifest"


def shard_path(folder, run_id: str) -> Path:
    """``FOLDER/runs/<first 2 hex digits>/<run_id>.h5``."""
    return Path(folder) / "runs" / run_id[:2] / f"{run_id}.h5"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_json_atomic(path, obj, *, indent: int | None = 1) -> None:
    """Write JSON to ``PATH.tmp``, fsync it, ``os.replace`` it onto `path`, fsync the folder.

    Raises
    ------
    StoreError
        If writing fails (the tmp file is removed; an earlier `path` is unchanged).
    """
    path = Path(path)
    text = json.dumps(obj, indent=indent, default=str, allow_nan=True, ensure_ascii=False)
    try:
        with atomic_write(path, tmp_suffix=".tmp") as tmp:
            tmp.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        reason = ("the disk is full (no space left on device)" if disk_full(exc)
                  else " ".join(str(exc).split()))
        raise StoreError(f"cannot write {path}: {reason}") from exc


def read_manifest(folder) -> dict:
    """The manifest of a sweep folder.

    Raises
    ------
    StoreError
        If it is missing or not a neuromem sweep manifest.
    """
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path}: cannot read the sweep manifest: "
                         f"{' '.join(str(exc).split())}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise StoreError(f"{path}: not a neuromem sweep manifest")
    return manifest


def manifest_of(sweep) -> dict:
    """The manifest of a :class:`~neuromem.sweep.card.Sweep` (written once per folder)."""
    return {"format": MANIFEST_FORMAT, "format_version": 1, "sweep_hash": sweep.hash,
            "name": sweep.name, "summary": sweep.summary, "sweep_card": str(sweep.path),
            "network": sweep.network, "network_path": str(sweep.network_path),
            "quick": sweep.quick, "base_seed": sweep.base_seed, "replicates": sweep.replicates,
            "mode": sweep.mode, "n_points": sweep.n_points, "fixed": sweep.fixed,
            "swept": list(sweep.swept), "n_runs": len(sweep.runs),
            "created_utc": utc_now(), "neuromem_version": __version__,
            "sweep": sweep.card, "network_card": sweep.network_data,
            "runs": [run.to_dict() for run in sweep.runs]}
