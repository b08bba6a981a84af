"""Sweep cards: which runs a sweep makes, what each run is, and its seed.

A sweep card is a TOML file::

    name = "digits_dtod"          # optional (default: the file's stem)
    summary = "..."               # optional
    network = "digits_stdp"       # built-in network card name, or a path (relative paths
                                  # are looked up beside the sweep card first)
    base_seed = 2024              # default 0
    replicates = 3                # runs per parameter point (default 1)
    quick = true                  # apply the network card's [quick] table (default false)

    [fixed]                       # dotted overrides applied to every run
    device = "taox_hfox_wu2018"
    "data.n_train" = 300

    [grid]                        # cartesian product of key -> list of values
    "device.g_max_dtod" = [0.0, 0.1, 0.25]

A ``[random]`` table replaces ``[grid]`` to draw ``n_samples`` points::

    [random]
    n_samples = 20
    "device.g_max_dtod" = {uniform = [0.0, 0.5]}
    "device.a_dtod" = {loguniform = [0.001, 0.1]}
    "network.n_exc" = {int = [20, 80]}            # both ends included
    device = {choice = ["ideal", "taox_hfox_wu2018"]}
    "stdp.a_plus" = {normal = [0.02, 0.002]}      # mean, standard deviation

Keys are dotted paths over the network card, as ``neuromem run --set`` takes them:
``network.n_exc``, ``device`` (swap the device card), ``device.g_max_dtod`` (one of its
parameters), ``seed``. Quoted (``"data.n_train" = 1``) and TOML-nested (``data.n_train = 1``,
``[grid.data]``) spellings are the same key; in ``[fixed]`` a table under ``device`` with a
``kind`` key is an inline device card. Without ``[grid]`` or ``[random]`` a sweep is one point
repeated ``replicates`` times (Monte-Carlo over device variability).

Run identity and seeds
----------------------
A run's identity is the canonical JSON (sorted keys, no spaces) of: a hash of the network
card's parsed contents, ``quick``, ``base_seed``, the run's overrides (``[fixed]`` plus its
point), its replicate index and, in random sweeps, its sample index. ``run_id`` is the first 16
hex digits of its SHA-256. The run's seed is::

    ss = numpy.random.SeedSequence([base_seed, int(run_id, 16) % 2**63])
    seed = int(ss.generate_state(1, numpy.uint64)[0] >> 1)     # 0 <= seed < 2**63

unless the point sets ``seed`` itself. Both depend on nothing but the run's definition, so a
run gives the same result whichever engine runs it, in any order, and on any rerun; editing
a sweep (adding grid values, more samples or replicates) keeps the identity of the runs it
shares with the old one. Random draws come from one generator per key
(``SeedSequence([base_seed, key number])``, one value per sample in order), so sample k's
values do not change when ``n_samples`` grows or other keys are added.

The sweep's hash (:attr:`Sweep.hash`) is the SHA-256 of the canonical JSON of the parsed sweep
card and network card: a resumed sweep refuses to continue under a different hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from neuromem.cards import (apply_overrides, card_dirs, find_card, load_network_data,
                            load_toml, resolve_device)
from neuromem.exceptions import ConfigError
from neuromem.schema import build, closest

__all__ = ["RunSpec", "Sweep", "load_sweep", "find_sweep_card", "canonical_json", "run_seed",
           "DISTRIBUTIONS", "MAX_RUNS"]

_TOP_KEYS = {"name", "summary", "network", "base_seed", "replicates", "quick", "fixed", "grid",
             "random"}
#: Distributions a ``[random]`` key may draw from.
DISTRIBUTIONS = ("uniform", "loguniform", "normal", "int", "choice")
#: Largest number of runs a sweep card may expand to.
MAX_RUNS = 1_000_000
_SEED_LIMIT = 2**63


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces: the text that identities and hashes are made of.

    Examples
    --------
    >>> canonical_json({"b": [1, 0.5], "a": "x"})
    '{"a":"x","b":[1,0.5]}'
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=True, default=str)


def _sha256(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def run_seed(base_seed: int, run_id: str) -> int:
    """The seed of run `run_id` in a sweep with `base_seed` (see the module docstring).

    Examples
    --------
    >>> run_seed(0, "00000000000000ff") == run_seed(0, "00000000000000ff")
    True
    """
    ss = np.random.SeedSequence([int(base_seed), int(run_id, 16) % _SEED_LIMIT])
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run of a sweep.

    Attributes
    ----------
    run_id : str
        16 hex digits identifying the run (see the module docstring).
    replicate : int
        Replicate index of the run's point, from 0.
    seed : int
        The seed the task gets.
    params : dict
        The swept keys' values at this run's point (dotted key -> value).
    overrides : dict
        Everything the run overrides in the network card: ``[fixed]`` plus `params`.
    sample : int or None
        Index of the point in a random sweep; None in grid sweeps.
    """

    run_id: str
    replicate: int
    seed: int
    params: dict
    overrides: dict
    sample: int | None = None

    def to_dict(self) -> dict:
        """The run as a manifest entry (no ``overrides``: the manifest holds ``fixed``)."""
        out = {"run_id": self.run_id, "replicate": self.replicate, "seed": self.seed,
               "params": self.params}
        if self.sample is not None:
            out["sample"] = self.sample
        return out


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A validated sweep card, expanded into its runs.

    Attributes
    ----------
    name, summary : str
    path : Path
        The sweep card.
    network : str
        The network card as the sweep card names it.
    network_path : Path
    network_data : dict
        The network card as parsed (before ``quick`` and overrides).
    quick : bool
    base_seed, replicates : int
    fixed : dict
        Dotted key -> value applied to every run.
    swept : tuple of str
        The keys of ``[grid]`` or ``[random]``, in card order.
    mode : str
        ``"grid"``, ``"random"`` or ``"single"`` (replicates of one point).
    n_points : int
    runs : tuple of RunSpec
        Point-major: all replicates of the first point, then of the second...
    hash : str
        SHA-256 of the canonical sweep card and network card.
    card : dict
        The sweep card as parsed.
    """

    name: str
    summary: str
    path: Path
    network: str
    network_path: Path
    network_data: dict
    quick: bool
    base_seed: int
    replicates: int
    fixed: dict
    swept: tuple
    mode: str
    n_points: int
    runs: tuple
    hash: str
    card: dict

    def describe(self) -> str:
        """``"4 points x 2 replicates = 8 runs"``."""
        points = "1 point" if self.n_points == 1 else f"{self.n_points} points"
        reps = "1 replicate" if self.replicates == 1 else f"{self.replicates} replicates"
        return f"{points} x {reps} = {len(self.runs)} runs"


# ------------------------------------------------------------------------------- finding

def find_sweep_card(name_or_path) -> Path:
    """A path to a sweep card, or the name of a built-in one (``networks/sweeps/NAME.toml``)."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if text.endswith(".toml") or path.parent != Path("."):
        if not path.is_file():
            raise ConfigError(f"sweep card not found: {path}", file=path)
        return path
    found = {}
    for folder in reversed(card_dirs("networks")):
        for candidate in sorted((folder / "sweeps").glob("*.toml")):
            found[candidate.stem] = candidate
    if text in found:
        return found[text]
    raise ConfigError(f"unknown sweep card {text!r}{closest(text, found)}; built-in: "
                      f"{', '.join(sorted(found)) or 'none'} (or give a path to a .toml file)")


def _network_card(value, sweep_path: Path) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"expected a network card name or path, got {value!r}",
                          file=sweep_path, key="network")
    path = Path(value).expanduser()
    if (value.endswith(".toml") or path.parent != Path(".")) and not path.is_absolute():
        beside = sweep_path.parent / path
        if beside.is_file():
            return beside.resolve()
    return find_card(value, "networks").resolve()


# ------------------------------------------------------------------------- tables and keys

def _flatten(table: dict, prefix: str, is_leaf) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and not is_leaf(dotted, value):
            out.update(_flatten(value, dotted, is_leaf))
        else:
            out[dotted] = value
    return out


def _table(raw: dict, name: str, file: Path) -> dict:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"expected a table of dotted keys, got {value!r}", file=file, key=name)
    return value


def _check_key(key: str, table: str, file: Path) -> None:
    parts = key.split(".")
    where = f"{table}.{key}"
    if any(not part for part in parts):
        raise ConfigError("expected a dotted key like network.n_exc", file=file, key=where)
    if parts[0] == "quick":
        raise ConfigError("the network card's [quick] table cannot be swept; set "
                          "quick = true at the top of the sweep card", file=file, key=where)
    if parts[0] == "seed" and len(parts) > 1:
        raise ConfigError("seed is a number, not a table", file=file, key=where)


def _check_seed(value, file: Path, key: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _SEED_LIMIT:
        raise ConfigError(f"expected an integer seed in [0, 2**63), got {value!r}",
                          file=file, key=key)


def _int_setting(raw: dict, key: str, default: int, low: int, file: Path) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value < _SEED_LIMIT:
        raise ConfigError(f"expected an integer >= {low}, got {value!r}", file=file, key=key)
    return value


# ------------------------------------------------------------------------------- grid

def _grid_points(grid: dict, file: Path) -> list[dict]:
    for key, values in grid.items():
        where = f"grid.{key}"
        if not isinstance(values, list):
            raise ConfigError(f"expected a list of values, got {values!r} (put single values "
                              "in [fixed])", file=file, key=where)
        if not values:
            raise ConfigError("empty list: a grid key needs at least one value", file=file,
                              key=where)
        seen = set()
        for value in values:
            text = canonical_json(value)
            if text in seen:
                raise ConfigError(f"the value {value!r} is listed twice", file=file, key=where)
            seen.add(text)
            if key == "seed":
                _check_seed(value, file, where)
    n = math.prod(len(v) for v in grid.values())
    if n > MAX_RUNS:
        raise ConfigError(f"the grid has {n:,} points, more than {MAX_RUNS:,}", file=file,
                          key="grid")
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*grid.values())]


# ------------------------------------------------------------------------------- random

def _is_distribution(_key: str, value: dict) -> bool:
    """``{uniform = [...]}`` (or a misspelt one), as opposed to a nested table of keys."""
    return len(value) == 1 and not isinstance(next(iter(value.values())), dict)


def _number_pair(kind: str, args, file: Path, key: str, *, integers: bool = False):
    ok = (isinstance(args, list) and len(args) == 2
          and all(isinstance(a, int if integers else (int, float)) and not isinstance(a, bool)
                  for a in args)
          and all(math.isfinite(a) for a in args))
    if not ok:
        what = "integers" if integers else "finite numbers"
        raise ConfigError(f"{kind} expects a list of two {what}, got {args!r}", file=file,
                          key=key)
    return args


def _sampler(key: str, spec, file: Path):
    """Validate one ``[random]`` entry; return a function of a Generator drawing one value."""
    where = f"random.{key}"
    if not isinstance(spec, dict) or len(spec) != 1:
        raise ConfigError(f"expected one distribution such as {{uniform = [0.0, 1.0]}} "
                          f"({', '.join(DISTRIBUTIONS)}), got {spec!r}", file=file, key=where)
    kind, args = next(iter(spec.items()))
    if kind not in DISTRIBUTIONS:
        raise ConfigError(f"unknown distribution {kind!r}{closest(kind, DISTRIBUTIONS)}; "
                          f"expected one of {', '.join(DISTRIBUTIONS)}", file=file, key=where)
    if kind == "choice":
        if not isinstance(args, list) or not args:
            raise ConfigError(f"choice expects a non-empty list of values, got {args!r}",
                              file=file, key=where)
        if key == "seed":
            for value in args:
                _check_seed(value, file, where)
        values = list(args)
        return lambda rng: values[int(rng.integers(len(values)))]
    if kind == "int":
        low, high = _number_pair(kind, args, file, where, integers=True)
        if low > high:
            raise ConfigError(f"int expects [low, high] with low <= high, got {args!r}",
                              file=file, key=where)
        if key == "seed":
            _check_seed(low, file, where)
            _check_seed(high, file, where)
        return lambda rng: int(rng.integers(low, high, endpoint=True))
    if key == "seed":
        raise ConfigError(f"a seed must be drawn with int or choice, not {kind}", file=file,
                          key=where)
    a, b = (float(x) for x in _number_pair(kind, args, file, where))
    if kind == "uniform":
        if a > b:
            raise ConfigError(f"uniform expects [low, high] with low <= high, got {args!r}",
                              file=file, key=where)
        return lambda rng: float(rng.uniform(a, b))
    if kind == "loguniform":
        if not 0 < a <= b:
            raise ConfigError(f"loguniform expects [low, high] with 0 < low <= high, got "
                              f"{args!r}", file=file, key=where)
        return lambda rng: float(math.exp(rng.uniform(math.log(a), math.log(b))))
    if b < 0:                                                       # normal
        raise ConfigError(f"normal expects [mean, std] with std >= 0, got {args!r}",
                          file=file, key=where)
    return lambda rng: float(rng.normal(a, b))


def _key_number(key: str) -> int:
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:15], 16)


def _random_points(table: dict, base_seed: int, file: Path) -> list[dict]:
    table = dict(table)
    if "n_samples" not in table:
        raise ConfigError("missing n_samples (how many points to draw)", file=file,
                          key="random.n_samples")
    n = table.pop("n_samples")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_RUNS:
        raise ConfigError(f"expected an integer in [1, {MAX_RUNS:,}], got {n!r}", file=file,
                          key="random.n_samples")
    specs = _flatten(table, "", _is_distribution)
    if not specs:
        raise ConfigError("no keys to draw: add e.g. \"device.g_max_dtod\" = "
                          "{uniform = [0.0, 0.5]}", file=file, key="random")
    columns = {}
    for key, spec in specs.items():
        _check_key(key, "random", file)
        draw = _sampler(key, spec, file)
        rng = np.random.default_rng(np.random.SeedSequence([base_seed, _key_number(key)]))
        columns[key] = [draw(rng) for _ in range(n)]
    return [{key: values[k] for key, values in columns.items()} for k in range(n)]


# ------------------------------------------------------------------------------ checking

def _sweep_key(err_key, fixed: dict, params: dict, table: str) -> str | None:
    """The sweep card key behind an error the network or device card reported."""
    candidates = [err_key, f"device.{err_key}"] if err_key else ["device"]
    for candidate in candidates:
        if candidate in params:
            return f"{table}.{candidate}"
        if candidate in fixed:
            return f"fixed.{candidate}"
    return None


def _validate_toy(data: dict, file) -> None:
    from neuromem.tasks.toy import _SECTIONS, ToyData
    for key in data:
        if key not in _SECTIONS:
            raise ConfigError(f"the toy task has no [{key}] section", file=file, key=key)
    build(ToyData, data.get("data", {}), file=file, section="data")


def _validate_digits(data: dict, file) -> None:
    from neuromem.tasks.digits import build_energy, build_sections
    build_sections(data, file=file)
    build_energy(data, file=file)


def _validate_kws(data: dict, file) -> None:
    from neuromem.tasks.kws import build_sections
    build_sections(data, file=file)


#: How each built-in task's sections are validated without running it (a task not listed
#: is checked when its runs start).
_VALIDATORS = {"toy": _validate_toy, "digits_stdp": _validate_digits, "kws": _validate_kws}


def _check_points(points: list[dict], fixed: dict, network_data: dict, network_path: Path,
                  quick: bool, file: Path, table: str) -> None:
    """Resolve every point's network card (its task's sections) and device card.

    A point whose resolved cards are invalid stops the sweep before any run starts, with an
    error naming the sweep card, the key (``grid.network.n_exc``) and the point's values.
    Distinct resolved cards are checked once each.
    """
    from neuromem.tasks import get_task

    base = dict(network_data.get("quick") or {}) if quick else {}
    devices_seen, cards_seen = set(), set()
    for params in points:
        try:
            data, device_overrides = apply_overrides(network_data, {**base, **fixed, **params},
                                                     file=network_path)
            data.pop("quick", None)
            device = data.get("device", "ideal")
            device_key = canonical_json([device, device_overrides])
            if device_key not in devices_seen:
                devices_seen.add(device_key)
                resolve_device(device, device_overrides, file=network_path)
            card_key = canonical_json({k: v for k, v in data.items() if k != "device"})
            if card_key not in cards_seen:
                cards_seen.add(card_key)
                task = data.get("task", network_path.stem)
                get_task(task, file=network_path)
                validator = _VALIDATORS.get(task)
                if validator is not None:
                    validator(data, network_path)
        except ConfigError as err:
            key = _sweep_key(err.key, fixed, params, table)
            point = f" (at {canonical_json(params)})" if params else ""
            if key is None:
                if not params:
                    raise                       # a problem of the network or device card
                raise ConfigError(f"{err}{point}", file=file, key=table) from None
            value = {**fixed, **params}.get(key.split(".", 1)[1])
            got = "" if "got " in err.reason else f"; got {canonical_json(value)}"
            raise ConfigError(f"{err.reason}{got}{point}", file=file, key=key) from None


# --------------------------------------------------------------------------------- loading

def load_sweep(name_or_path) -> Sweep:
    """Load, validate and expand a sweep card.

    Parameters
    ----------
    name_or_path : str or path-like
        A path to a sweep card, or the name of a built-in one.

    Returns
    -------
    Sweep

    Raises
    ------
    ConfigError
        Naming the sweep card (or the network card) and the key: unknown top-level keys,
        empty or duplicated grid values, bad distributions, keys that are not in the network
        card's sections, unknown devices or device parameters, more than :data:`MAX_RUNS`
        runs.
    """
    path = find_sweep_card(name_or_path)
    raw = load_toml(path)
    for key in raw:
        if key not in _TOP_KEYS:
            raise ConfigError(f"unknown top-level key{closest(key, _TOP_KEYS)}; expected "
                              f"{', '.join(sorted(_TOP_KEYS))}", file=path, key=str(key))
    if "network" not in raw:
        raise ConfigError("missing the network card to sweep (network = \"digits_stdp\")",
                          file=path, key="network")
    name = raw.get("name", path.stem)
    summary = raw.get("summary", "")
    for key, value in (("name", name), ("summary", summary)):
        if not isinstance(value, str):
            raise ConfigError(f"expected a string, got {value!r}", file=path, key=key)
    quick = raw.get("quick", False)
    if not isinstance(quick, bool):
        raise ConfigError(f"expected true or false, got {quick!r}", file=path, key="quick")
    base_seed = _int_setting(raw, "base_seed", 0, 0, path)
    replicates = _int_setting(raw, "replicates", 1, 1, path)

    network_path = _network_card(raw["network"], path)
    load_network_data(network_path, quick=quick)         # validates the card's top level
    network_data = load_toml(network_path)

    fixed = _flatten(_table(raw, "fixed", path), "",
                     lambda key, value: key == "device" and "kind" in value)
    for key, value in fixed.items():
        _check_key(key, "fixed", path)
        if key == "seed":
            raise ConfigError("every run's seed derives from base_seed: set base_seed, or "
                              "sweep seed in [grid]", file=path, key="fixed.seed")
    if "grid" in raw and "random" in raw:
        raise ConfigError("a sweep has either a [grid] or a [random] table, not both",
                          file=path, key="random")
    if "random" in raw:
        mode = "random"
        points = _random_points(_table(raw, "random", path), base_seed, path)
    elif "grid" in raw:
        mode = "grid"
        grid = _flatten(_table(raw, "grid", path), "", lambda key, value: False)
        if not grid:
            raise ConfigError("empty grid: add a key with a list of values, e.g. "
                              "\"device.g_max_dtod\" = [0.0, 0.5]", file=path, key="grid")
        for key in grid:
            _check_key(key, "grid", path)
        points = _grid_points(grid, path)
    else:
        mode, points = "single", [{}]
    swept = tuple(points[0])
    for key in swept:
        if key in fixed:
            raise ConfigError("set in [fixed] and swept as well", file=path, key=key)
    if "seed" in swept and replicates > 1:
        raise ConfigError("replicates of a point whose seed is swept would be identical: "
                          "use replicates = 1", file=path, key="replicates")
    if len(points) * replicates > MAX_RUNS:
        raise ConfigError(f"{len(points):,} points x {replicates} replicates is more than "
                          f"{MAX_RUNS:,} runs", file=path, key="replicates")
    _check_points(points, fixed, network_data, network_path, quick, path, mode)

    network_hash = _sha256(network_data)
    runs, seen = [], set()
    for k, params in enumerate(points):
        for r in range(replicates):
            identity = {"network": network_hash, "quick": quick, "base_seed": base_seed,
                        "overrides": {**fixed, **params}, "replicate": r}
            if mode == "random":
                identity["sample"] = k
            run_id = _sha256(identity)[:16]
            if run_id in seen:                   # a 64-bit collision: never in practice
                raise ConfigError(f"two runs share the id {run_id}", file=path)
            seen.add(run_id)
            seed = params["seed"] if "seed" in params else run_seed(base_seed, run_id)
            runs.append(RunSpec(run_id, r, seed, dict(params),
                                {k2: v for k2, v in {**fixed, **params}.items() if k2 != "seed"},
                                k if mode == "random" else None))
    return Sweep(name=name, summary=summary, path=path.resolve(), network=raw["network"],
                 network_path=network_path, network_data=network_data, quick=quick,
                 base_seed=base_seed, replicates=replicates, fixed=fixed, swept=swept,
                 mode=mode, n_points=len(points), runs=tuple(runs),
                 hash=_sha256({"sweep": raw, "network": network_data}), card=raw)
