"""A sweep's commit ledger: the SHA-256 of every committed shard, checks, status and repair.

When a run's shard is committed the worker returns its SHA-256 and size; the driver appends
one line ``{"run_id", "sha256", "bytes"}`` to ``FOLDER/commits.jsonl`` (an append-only
journal: a line cut short by ``kill -9`` is ignored) and, at the end of every invocation,
folds the journal into ``manifest.json`` (``runs[i]["sha256"]``, ``runs[i]["bytes"]``).
:func:`checksums` reads both (the journal wins: it is newer).

On ``--resume`` and when ``results.h5`` is merged, every shard with a recorded checksum is
hashed again: one whose bytes changed (silent corruption, a bad disk, a foreign write) is
moved aside to ``<run_id>.h5.corrupt``, reported and rerun. A complete shard without a
recorded checksum is a *late shard*: its run was committed by a task of an earlier driver
that was killed before it could record it (Dask keeps running the tasks of a dead client);
it is checked for completeness, recorded and counted (``n_late``).

:func:`verify_sweep` is ``neuromem inspect --verify DIR``; :func:`sweep_status` is ``neuromem
sweep status DIR``; :func:`repair_manifest` is ``neuromem sweep CARD -o DIR --repair``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from pathlib import Path

from neuromem.exceptions import ConfigError, StoreError
from neuromem.store import file_sha256, is_complete

__all__ = ["JOURNAL", "Journal", "checksums", "check_shard", "verify_sweep", "VerifyReport",
           "sweep_status", "format_status", "repair_manifest"]

JOURNAL = "commits.jsonl"


class Journal:
    """Append-only record of committed shards (one JSON line each, flushed per line)."""

    def __init__(self, folder):
        self.path = Path(folder) / JOURNAL
        try:
            self._fh = open(self.path, "a", encoding="utf-8")
        except OSError as exc:
            raise StoreError(f"cannot write {self.path}: {' '.join(str(exc).split())}") \
                from exc

    def record(self, run_id: str, sha256: str, size: int) -> None:
        self._fh.write(json.dumps({"run_id": run_id, "sha256": sha256, "bytes": size},
                                  separators=(",", ":")) + "\n")
        self._fh.flush()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._fh.flush()
            os.fsync(self._fh.fileno())
        self._fh.close()


def read_journal(folder) -> dict[str, dict]:
    """run_id -> ``{"sha256", "bytes"}`` from the journal (last line per run wins)."""
    out: dict[str, dict] = {}
    try:
        text = (Path(folder) / JOURNAL).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            out[str(entry["run_id"])] = {"sha256": str(entry["sha256"]),
                                         "bytes": int(entry["bytes"])}
        except (ValueError, KeyError, TypeError):
            continue                            # a line cut short by a kill
    return out


def checksums(folder, manifest: dict | None = None) -> dict[str, dict]:
    """Recorded checksums: the manifest's, overridden by the journal's."""
    out = {}
    for run in (manifest or {}).get("runs", []):
        if run.get("sha256"):
            out[run["run_id"]] = {"sha256": run["sha256"], "bytes": run.get("bytes")}
    out.update(read_journal(folder))
    return out


def check_shard(shard: Path, recorded: dict | None) -> str:
    """``"missing"``, ``"ok"``, ``"late"`` (complete, nothing recorded), ``"incomplete"``
    (not a complete result file: truncated) or ``"corrupt"`` (a complete-looking file whose
    bytes differ from the recorded checksum)."""
    if not shard.exists():
        return "missing"
    if recorded is None:
        return "late" if is_complete(shard) else "incomplete"
    try:
        if ((recorded.get("bytes") is None or shard.stat().st_size == recorded["bytes"])
                and file_sha256(shard) == recorded["sha256"]):
            return "ok"
    except OSError:
        pass
    return "corrupt" if is_complete(shard) else "incomplete"


def quarantine(shard: Path) -> Path:
    """Move a corrupt shard aside (``<run_id>.h5.corrupt``) so its run is redone."""
    target = shard.with_name(shard.name + ".corrupt")
    os.replace(shard, target)
    return target


@dataclasses.dataclass
class VerifyReport:
    """What :func:`verify_sweep` found: run ids per state."""

    folder: Path
    n_runs: int
    ok: list
    late: list
    corrupt: list
    incomplete: list
    missing: list

    @property
    def clean(self) -> bool:
        return not (self.corrupt or self.incomplete)

    def format(self) -> str:
        lines = [f"{self.folder}: {self.n_runs} runs: {len(self.ok)} shards verified "
                 f"(SHA-256), {len(self.late)} without a recorded checksum, "
                 f"{len(self.corrupt)} corrupt, {len(self.incomplete)} incomplete, "
                 f"{len(self.missing)} missing"]
        for name in ("corrupt", "incomplete"):
            for run_id in getattr(self, name)[:20]:
                lines.append(f"  {name}  {run_id}")
        if not self.clean:
            lines.append("rerun them with: neuromem sweep CARD -o DIR --resume")
        return "\n".join(lines)


def verify_sweep(folder) -> VerifyReport:
    """Hash every shard of a sweep against its recorded checksum (changes nothing)."""
    from neuromem.sweep.layout import read_manifest, shard_path

    folder = Path(folder)
    manifest = read_manifest(folder)
    sums = checksums(folder, manifest)
    states: dict[str, list] = {k: [] for k in ("ok", "late", "corrupt", "incomplete",
                                               "missing")}
    for run in manifest["runs"]:
        run_id = run["run_id"]
        states[check_shard(shard_path(folder, run_id), sums.get(run_id))].append(run_id)
    return VerifyReport(folder, len(manifest["runs"]), **states)


# ---------------------------------------------------------------------------------- status

def sweep_status(folder) -> dict:
    """Done / failed / pending counts of a sweep folder, its failed runs' errors and an ETA.

    The ETA is the pending runs times the mean interval between the last shards' commits
    (their modification times), so it follows the current speed of the whole cluster;
    None until two shards exist or when nothing is pending.
    """
    from neuromem.sweep.layout import read_manifest, shard_path

    folder = Path(folder)
    manifest = read_manifest(folder)
    done, failed, times = 0, [], []
    for run in manifest["runs"]:
        shard = shard_path(folder, run["run_id"])
        try:
            mtime = shard.stat().st_mtime
        except FileNotFoundError:
            record = folder / "failed" / f"{run['run_id']}.json"
            if record.is_file():
                try:
                    info = json.loads(record.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    info = {"reason": "unknown", "error": f"unreadable record {record}"}
                failed.append({"run_id": run["run_id"], "reason": info.get("reason"),
                               "error": info.get("error"), "params": run.get("params")})
            continue
        done += 1
        times.append(mtime)
    n = len(manifest["runs"])
    pending = n - done - len(failed)
    eta = rate = None
    times.sort()
    recent = times[-50:]
    if len(recent) >= 2 and recent[-1] > recent[0]:
        rate = (len(recent) - 1) / (recent[-1] - recent[0])       # runs per second
        if pending:
            eta = pending / rate
    return {"folder": str(folder), "name": manifest.get("name"),
            "sweep_card": manifest.get("sweep_card"), "n_runs": n, "done": done,
            "failed": len(failed), "pending": pending, "failures": failed,
            "runs_per_s": rate, "eta_s": eta,
            "last_commit_age_s": time.time() - times[-1] if times else None}


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def format_status(status: dict, max_failures: int = 10) -> str:
    """What ``neuromem sweep status DIR`` prints (no trailing newline)."""
    lines = [f"{status['folder']}  (sweep {status['name']})",
             f"runs     {status['n_runs']}: {status['done']} done, {status['failed']} failed, "
             f"{status['pending']} pending"]
    if status["runs_per_s"]:
        eta = (_duration(status["eta_s"]) if status["eta_s"] is not None else "-")
        lines.append(f"speed    {status['runs_per_s'] * 60:.3g} runs/min over the last "
                     f"commits; ETA {eta} (last commit {_duration(status['last_commit_age_s'])}"
                     " ago)")
    if status["failures"]:
        lines.append("failed")
        for f in status["failures"][:max_failures]:
            lines.append(f"  {f['run_id']}  {f['reason']}: {f['error']}")
        if len(status["failures"]) > max_failures:
            lines.append(f"  ... {len(status['failures']) - max_failures} more "
                         f"(see {status['folder']}/failed/)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- repair

def repair_manifest(sweep, folder, *, force: bool = False) -> dict:
    """Rebuild ``FOLDER/manifest.json`` from the sweep card and the shards on disk.

    The run list comes from the card (run ids and seeds depend only on it); checksums from
    the journal, else from hashing the complete shards. Every complete shard's recorded
    ``sweep_hash`` must be the card's (else the card changed since: refused unless
    `force`). The old manifest, if any, is kept as ``manifest.json.old``.

    Returns
    -------
    dict
        ``n_runs``, ``n_shards`` (complete shards of runs in the card), ``n_foreign``
        (shards of runs not in the card).
    """
    import h5py

    from neuromem.sweep.layout import MANIFEST, manifest_of, shard_path, write_json_atomic

    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder", key="-o")
    journal = read_journal(folder)
    manifest = manifest_of(sweep)
    ids = {run["run_id"] for run in manifest["runs"]}
    n_shards = 0
    for run in manifest["runs"]:
        shard = shard_path(folder, run["run_id"])
        if not is_complete(shard):
            continue
        n_shards += 1
        try:
            with h5py.File(shard, "r") as f:
                extra = json.loads(f["extra"].asstr()[()]) if "extra" in f else {}
        except Exception:
            extra = {}
        recorded = (extra.get("sweep") or {}).get("sweep_hash")
        if recorded and recorded != sweep.hash and not force:
            raise ConfigError(f"the shard {shard} was written by a sweep of another hash "
                              f"({recorded[:12]}, the card's is {sweep.hash[:12]}): the card "
                              "changed since; add --force to rebuild the manifest anyway",
                              key="--repair")
        entry = journal.get(run["run_id"]) or {"sha256": file_sha256(shard),
                                               "bytes": shard.stat().st_size}
        run.update(entry)
    n_foreign = sum(1 for p in (folder / "runs").glob("*/*.h5") if p.stem not in ids)
    old = folder / MANIFEST
    if old.exists():
        with contextlib.suppress(OSError):
            os.replace(old, folder / (MANIFEST + ".old"))
    write_json_atomic(old, manifest)
    return {"n_runs": len(manifest["runs"]), "n_shards": n_shards, "n_foreign": n_foreign}
