"""Batch runs: sweeps over card keys and Monte-Carlo replicates, saved to HDF5.

A sweep card (:mod:`neuromem.sweep.card`) names a network card, fixed overrides and a grid or
random draws of swept keys; :func:`run_sweep` runs every point ``replicates`` times on an
engine (:mod:`neuromem.sweep.engines`: in-process, a local process pool by default, or a Dask
cluster) through one driver loop (:mod:`neuromem.sweep.driver`), each run in
:func:`execute_run`, and merges the shards into ``results.h5``
(:mod:`neuromem.sweep.results`). ``neuromem sweep CARD`` is the command.

The sweep's folder::

    manifest.json            the sweep card, network card, hash, and every run (id, seed,
                             params); written first
    runs/<ab>/<run_id>.h5    one result file (store format) per finished run, written by the
                             worker that ran it (tmp + fsync + os.replace)
                             (written as ``<run_id>.h5.<pid>-<token>.part``, then linked
                             into place once: the first commit of a run wins)
    commits.jsonl            the SHA-256 and size of every committed shard, one JSON line
                             each, folded into the manifest's runs at the end of every
                             invocation (:mod:`neuromem.sweep.ledger`)
    failed/<run_id>.json     a failed run: reason, one-line error, traceback
    results.h5               the merged index table (one row per complete run), rebuilt
                             from the shards at the end of every invocation

A killed driver (``kill -9``) or Ctrl-C leaves only complete shards and maybe stray ``.tmp``
and ``.part`` files; ``--resume`` removes them, checks every kept shard against its recorded
SHA-256 (a changed one is moved to ``<run_id>.h5.corrupt`` and rerun), keeps the complete
shards and reruns the rest.
A run's seed depends only on its definition (see :mod:`neuromem.sweep.card`), so the same
sweep gives the same ``results.h5`` index serially, in the pool and on Dask.

Examples
--------
>>> from neuromem.sweep import load_sweep
>>> sweep = load_sweep("digits_dtod")
>>> sweep.swept
('device.g_max_dtod',)
"""

from neuromem.sweep.card import RunSpec, Sweep, find_sweep_card, load_sweep, run_seed
from neuromem.sweep.driver import SweepInterrupted, SweepReport, run_sweep, shard_path
from neuromem.sweep.results import is_sweep_output, merge_results, read_index, summarize_sweep
from neuromem.sweep.worker import RunJob, execute_run

__all__ = ["Sweep", "RunSpec", "RunJob", "SweepReport", "SweepInterrupted", "load_sweep",
           "find_sweep_card", "run_seed", "run_sweep", "execute_run", "merge_results",
           "read_index", "summarize_sweep", "is_sweep_output", "shard_path"]
