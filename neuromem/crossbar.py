"""Crossbar arrays: weight <-> conductance mapping, tiling, the read model and MAC periphery.

A :class:`Crossbar` holds a weight matrix ``W`` (``n_in x n_out``: row ``i`` is an input,
column ``j`` an output) as conductances of ReRAM cells (one :class:`~neuromem.devices.
DeviceArray` per physical array), partitioned into ``tile_rows x tile_cols`` tiles. A read
drives row voltages and sums cell currents per column (Ohm's law per cell, Kirchhoff's
current law per column); each tile's column currents are partial sums, the quantities an ADC
sees in MAC mode. Wire resistance, read noise and drift, DAC and ADC are all optional
non-idealities of the same read.

Notes
-----
**Mapping.** ``g_lo, g_hi`` are the card's nominal ``g_min_S, g_max_S``, ``dG = g_hi - g_lo``;
weights are clipped to ``[-w_max, w_max]`` (``[0, w_max]`` with a g_min reference).

Differential pair (default), two devices per weight::

    G+ = g_lo + max(W, 0) dG / w_max        G- = g_lo + max(-W, 0) dG / w_max
    W  = (G+ - G-) w_max / dG               I_j = sum_i V_i (G+_ij - G-_ij)

Offset, one device per weight and a reference column per tile. With the reference at
mid-window (``offset_reference = "mid"``, signed weights, half the conductance resolution of
the differential pair)::

    g_ref = (g_lo + g_hi) / 2               G  = g_ref + W dG / (2 w_max)
    W  = (G - G_ref) 2 w_max / dG           I_j = sum_i V_i (G_ij - G_ref,i)

and with the reference at the window's bottom (``"min"``, non-negative weights only,
negative ones clip to 0): ``g_ref = g_lo``, ``G = g_lo + W dG / w_max``,
``W = (G - G_ref) w_max / dG``.

``G_ref,i`` is the reference cell of row ``i`` in the tile that holds column ``j``. The
subtraction (``I+ - I-``, or ``I - I_ref``) is done in analog before the ADC, which sees
one signed current per column. Programming sets each device through
``DeviceArray.program`` (bounded by each cell's own window), so D2D spread of the window and
stuck cells show up as weight errors; :meth:`Crossbar.weights` inverts the map from the
devices' actual (noise-free) conductances.

**Tiling.** Rows are split into ``ceil(n_in / tile_rows)`` row tiles, columns into
``ceil(n_out / tile_cols)`` column tiles (the last ones partial). With the differential pair
the G+ and G- arrays are separate physical tiles of the same size; in offset mode each tile
has one extra (reference) column, on the same row wires as its data columns.

**MAC periphery.** With input scale ``x_max`` and read voltage ``v_read``:

- DAC, ``multibit`` with ``b`` bits: ``L = 2^b - 1`` levels per polarity,
  ``k_i = round(L min(|x_i| / x_max, 1))``, ``V_i = sign(x_i) v_read k_i / L`` in one
  cycle. ``bit_serial``: ``b`` cycles; cycle ``t`` drives ``sign(x_i) v_read bit_t(k_i)``
  and its (ADC-converted) result is shift-added with weight ``2^t / L``. Without ADC
  quantisation both give the same result. Drives are bipolar (sign-magnitude inputs).
- ADC with ``B`` bits and full scale ``I_fs`` per tile: ``LSB = 2 I_fs / (2^B - 1)``,
  ``code = clip(round(I / LSB), -2^(B-1), 2^(B-1) - 1)``, output ``code LSB`` (a b-bit
  two's-complement, mid-tread converter). Every ``|I| <= I_fs`` is converted within
  ``LSB / 2``; beyond that it clips. ``I_fs`` is ``adc_full_scale_A`` (``"fixed"``),
  ``v_read * tile_rows * dG`` (``/ 2`` for a mid reference; ``"worst_case"``: the largest current
  any weights could give) or, per tile, ``v_read * max_j sum_i |G_eff,ij|`` over the tile's
  programmed noise-free conductances (``"calibrated"``: the largest current any input can
  give with these weights).
- Output in weight units, summed digitally over row tiles (and cycles)::

      y_j = (x_max / v_read) w_per_S sum_t c_t sum_r ADC(I_rj,t)

  with ``w_per_S`` the map's weight per siemens (``w_max / dG``, ``2 w_max / dG`` for a mid
  reference), so that ``y ~ x @ W``. The ADC error is at most
  ``(x_max / v_read) w_per_S sum_r LSB_r / 2`` per output (``sum_t c_t = 1``).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from neuromem.devices.base import DeviceParams
from neuromem.exceptions import ConfigError
from neuromem.irdrop import IR_DROP_METHODS, ir_drop_currents
from neuromem.kernels import crossbar as _k
from neuromem.schema import at_least, nonnegative, param, positive

__all__ = ["CrossbarConfig", "Crossbar", "mac", "MAPPINGS", "OFFSET_REFERENCES", "DAC_MODES",
           "ADC_RANGES", "COUNT_KEYS"]

MAPPINGS = ("differential", "offset")
OFFSET_REFERENCES = ("mid", "min")
DAC_MODES = ("multibit", "bit_serial")
ADC_RANGES = ("calibrated", "worst_case", "fixed")

#: Keys of the event-count dict returned by :meth:`Crossbar.mac`.
COUNT_KEYS = ("cycles", "dac_drives", "cell_reads", "tile_reads", "adc_conversions",
              "shift_adds", "tiles_used")

_MAX_DAC_BITS = 24
_MAX_ADC_BITS = 32


@dataclasses.dataclass(frozen=True, kw_only=True)
class CrossbarConfig:
    """How weights sit in crossbar tiles and how the periphery reads them.

    Construction validates every field (``ConfigError`` naming the key); the same checks run
    when a card's table is built with :func:`neuromem.schema.build`.
    """

    mapping: str = param("differential", kind=str, choices=MAPPINGS,
                         doc="signed weights as a differential pair G+ - G-, or one device "
                             "minus a reference column")
    offset_reference: str = param("mid", kind=str, choices=OFFSET_REFERENCES,
                                  doc="offset mapping's reference conductance: mid-window "
                                      "(signed weights) or g_min (weights >= 0)")
    tile_rows: int = param(128, kind=int, check=at_least(1), doc="rows (inputs) per tile")
    tile_cols: int = param(128, kind=int, check=at_least(1),
                           doc="data columns (outputs) per tile")
    w_max: float | None = param(optional=True, check=positive,
                                doc="weight magnitude mapped to the full conductance window "
                                    "(None: max |W| of the programmed matrix)")
    r_wire_Ohm: float | None = param(optional=True, unit="Ohm", check=nonnegative,
                                     doc="wire resistance per cell segment, row and column "
                                         "(None: the device card's r_wire_Ohm; 0: ideal)")
    ir_drop_method: str = param("iterative", kind=str, choices=IR_DROP_METHODS,
                                doc="IR-drop solver: numba line relaxation or sparse direct")
    v_read_V: float | None = param(optional=True, unit="V", check=positive,
                                   doc="full-scale read voltage (None: the device card's)")
    dac_bits: int | None = param(8, kind=int, optional=True, check=at_least(1),
                                 doc="input DAC magnitude bits (None: ideal analog drive)")
    dac_mode: str = param("bit_serial", kind=str, choices=DAC_MODES,
                          doc="multi-level drive in one cycle, or one bit per cycle")
    adc_bits: int | None = param(8, kind=int, optional=True, check=at_least(1),
                                 doc="ADC bits per tile column (None: ideal, no quantisation)")
    adc_range: str = param("calibrated", kind=str, choices=ADC_RANGES,
                           doc="ADC full scale: from the programmed tile, the worst case of "
                               "any weights, or adc_full_scale_A")
    adc_full_scale_A: float | None = param(optional=True, unit="A", check=positive,
                                           doc="ADC full-scale current |I| when "
                                               "adc_range = 'fixed'")
    adc_share: int = param(8, kind=int, check=at_least(1),
                           doc="columns sharing one ADC (time-multiplexed)")

    def __post_init__(self):
        self.check()

    def check(self) -> None:
        """Validate every field and their combinations (raises ``ConfigError(key=...)``)."""
        for f in dataclasses.fields(self):
            _check_field(f, getattr(self, f.name))
        if self.dac_bits is not None and self.dac_bits > _MAX_DAC_BITS:
            raise ConfigError(f"expected at most {_MAX_DAC_BITS} bits, got {self.dac_bits}",
                              key="dac_bits")
        if self.adc_bits is not None and self.adc_bits > _MAX_ADC_BITS:
            raise ConfigError(f"expected at most {_MAX_ADC_BITS} bits, got {self.adc_bits}",
                              key="adc_bits")
        if self.dac_mode == "bit_serial" and self.dac_bits is None:
            raise ConfigError("bit_serial drive needs dac_bits (the number of cycles)",
                              key="dac_bits")
        if self.adc_range == "fixed" and self.adc_full_scale_A is None:
            raise ConfigError("adc_range = 'fixed' needs adc_full_scale_A",
                              key="adc_full_scale_A")
        if self.adc_range != "fixed" and self.adc_full_scale_A is not None:
            raise ConfigError(f"adc_full_scale_A is only used with adc_range = 'fixed' "
                              f"(adc_range is {self.adc_range!r})", key="adc_full_scale_A")

    @property
    def adcs_per_tile(self) -> int:
        """ADCs of a full tile: ``ceil(tile_cols / adc_share)``."""
        return -(-self.tile_cols // self.adc_share)


def _check_field(f: dataclasses.Field, value) -> None:
    meta, key = f.metadata, f.name
    if value is None:
        if meta.get("optional"):
            return
        raise ConfigError("a value is required", key=key)
    kind = meta["kind"]
    if isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"expected a {kind.__name__}, got {value!r}", key=key)
    if kind is int and not isinstance(value, (int, np.integer)):
        raise ConfigError(f"expected an integer, got {value!r}", key=key)
    if kind is float and (not isinstance(value, (int, float, np.floating, np.integer))
                          or not math.isfinite(value)):
        raise ConfigError(f"expected a finite number, got {value!r}", key=key)
    if kind is str and not isinstance(value, str):
        raise ConfigError(f"expected a string, got {value!r}", key=key)
    if meta.get("choices") is not None and value not in meta["choices"]:
        raise ConfigError(f"expected one of {', '.join(map(repr, meta['choices']))}, got "
                          f"{value!r}", key=key)
    problem = meta["check"](value) if meta.get("check") else None
    if problem:
        raise ConfigError(f"expected {problem}, got {value!r}", key=key)


def _tile_bounds(n: int, size: int) -> list[slice]:
    return [slice(a, min(a + size, n)) for a in range(0, n, size)]


class Crossbar:
    """A weight matrix held as device conductances in tiled crossbar arrays.

    Parameters
    ----------
    shape : tuple of int
        ``(n_in, n_out)``.
    device : DeviceParams
        The device model (e.g. ``load_device('ideal').params``); a DeviceCard also works.
    config : CrossbarConfig, optional
        Mapping, tiling and periphery (default ``CrossbarConfig()``).
    rng : numpy.random.Generator
        Draws the devices' D2D parameters and faults.
    w_max : float, optional
        Weight mapped to the full window (default ``config.w_max``, else 1).

    Attributes
    ----------
    arrays : tuple of DeviceArray
        ``(G+, G-)`` for the differential pair, both ``(n_in, n_out)``; ``(G, G_ref)`` for
        offset, ``G_ref`` of shape ``(n_in, n_col_tiles)``.
    w_per_S : float
        Weight per siemens of effective conductance: ``2 w_max / dG`` for an offset map with
        a mid-window reference, else ``w_max / dG``.

    Examples
    --------
    >>> import numpy as np
    >>> from neuromem.cards import load_device
    >>> W = np.array([[0.5, -1.0], [1.0, 0.25]])
    >>> ideal_periphery = CrossbarConfig(dac_bits=None, dac_mode="multibit", adc_bits=None)
    >>> xbar = Crossbar.from_weights(W, load_device("ideal").params, ideal_periphery,
    ...                              np.random.default_rng(0))
    >>> bool(np.allclose(xbar.weights(), W))
    True
    >>> y, counts = xbar.mac(np.array([1.0, 2.0]))
    >>> y.round(12).tolist(), counts["adc_conversions"]
    ([2.5, -0.5], 2)
    """

    def __init__(self, shape, device, config: CrossbarConfig | None = None,
                 rng: np.random.Generator | None = None, *, w_max: float | None = None,
                 cells=None, reference_S: float | None = None):
        if not isinstance(device, DeviceParams) and isinstance(getattr(device, "params", None),
                                                               DeviceParams):
            device = device.params
        if not isinstance(device, DeviceParams):
            raise ConfigError(f"expected device parameters, got {type(device).__name__}",
                              key="device")
        if cells is None and not isinstance(rng, np.random.Generator):
            raise ConfigError("pass rng=np.random.Generator (it draws device-to-device "
                              "variation)", key="rng")
        self.config = CrossbarConfig() if config is None else config
        shape = tuple(int(s) for s in shape)
        if len(shape) != 2 or min(shape) < 1:
            raise ConfigError(f"expected a shape (n_in, n_out) >= 1, got {shape}", key="shape")
        self.device = device
        self.shape = shape
        w = self.config.w_max if w_max is None else w_max
        self.w_max = 1.0 if w is None else float(w)
        if not (self.w_max > 0 and math.isfinite(self.w_max)):
            raise ConfigError(f"expected w_max > 0, got {w!r}", key="w_max")
        self.g_lo = float(device.g_min_S)
        self.g_hi = float(device.g_max_S)
        span = self.g_hi - self.g_lo
        differential = self.config.mapping == "differential"
        self.w_per_S = (2.0 if self._mid_reference else 1.0) * self.w_max / span
        self.row_slices = _tile_bounds(shape[0], self.config.tile_rows)
        self.col_slices = _tile_bounds(shape[1], self.config.tile_cols)
        #: column tile of each output column (n_out,)
        self.col_tile_of = np.arange(shape[1]) // self.config.tile_cols
        #: reference conductance of an ideal (cell-less) reference, or None
        self.reference_S = None
        #: write-verify statistics of the last :meth:`program` with ``verify`` (else None)
        self.programming = None
        #: per-column analog gain of the sense amplifiers ahead of the ADC (n_out,), or None
        #: (unity); a layer's per-column gain (:meth:`CrossbarLayer.crossbar`)
        self.column_gain = None
        if cells is not None:
            self.arrays = self._adopt(cells, reference_S)
        elif differential:
            self.arrays = (device.make_array(shape, rng), device.make_array(shape, rng))
        else:
            self.arrays = (device.make_array(shape, rng),
                           device.make_array((shape[0], self.n_col_tiles), rng))
            self.arrays[1].program(self.g_ref)

    def _adopt(self, cells, reference_S) -> tuple:
        """Existing device arrays as this crossbar's cells (shared, not copied)."""
        cells = tuple(cells)
        want = 2 if self.config.mapping == "differential" else (1 if reference_S is not None
                                                                 else 2)
        if len(cells) != want:
            raise ConfigError(f"a {self.config.mapping} crossbar takes {want} device arrays "
                              f"here, got {len(cells)}", key="cells")
        ref_shape = (self.shape[0], self.n_col_tiles)
        for k, a in enumerate(cells):
            expect = self.shape if (k == 0 or self.config.mapping == "differential") \
                else ref_shape
            if tuple(a.shape) != expect:
                raise ConfigError(f"device array {k} has shape {tuple(a.shape)}, expected "
                                  f"{expect}", key="cells")
        if reference_S is not None:
            if self.config.mapping == "differential":
                raise ConfigError("reference_S is for the offset mapping", key="reference_S")
            if not (reference_S >= 0 and math.isfinite(reference_S)):
                raise ConfigError(f"expected a reference conductance >= 0 S, got "
                                  f"{reference_S!r}", key="reference_S")
            self.reference_S = float(reference_S)
        return cells

    @classmethod
    def of_cells(cls, cells, device, config: CrossbarConfig | None = None, *,
                 w_max: float | None = None, reference_S: float | None = None) -> "Crossbar":
        """A crossbar over device arrays that already exist (e.g. a trained layer's cells).

        The arrays are shared, not copied: a read sees exactly their conductances, per-cell
        D2D parameters, faults and drift. ``cells`` is ``(G+, G-)`` for the differential map,
        ``(G, G_ref)`` or, with ``reference_S``, ``(G,)`` read against an ideal reference of
        that conductance (what :class:`~neuromem.layers.CrossbarLayer` subtracts).
        """
        cells = tuple(cells)
        if not cells:
            raise ConfigError("expected at least one device array", key="cells")
        return cls(cells[0].shape, device, config, w_max=w_max, cells=cells,
                   reference_S=reference_S)

    @classmethod
    def from_weights(cls, W, device, config: CrossbarConfig | None = None,
                     rng: np.random.Generator | None = None, *,
                     verify: tuple[float, int] | None = None) -> "Crossbar":
        """Program ``W`` (``n_in x n_out``) into new arrays (module Notes: the mapping).

        ``w_max`` is ``config.w_max`` or, when that is None, ``max |W|`` (1 for all zeros).
        ``verify = (tol_S, max_pulses)`` programs by write-verify (:meth:`program`).
        """
        W = np.asarray(W, dtype=np.float64)
        if W.ndim != 2:
            raise ConfigError(f"expected a 2-D weight matrix, got shape {W.shape}", key="W")
        config = CrossbarConfig() if config is None else config
        w_max = config.w_max
        if w_max is None:
            peak = float(np.max(np.abs(W))) if W.size else 0.0
            w_max = peak if peak > 0 and math.isfinite(peak) else 1.0
        xbar = cls(W.shape, device, config, rng, w_max=w_max)
        xbar.program(W, verify=verify, rng=rng)
        return xbar

    # -- geometry ---------------------------------------------------------------------------

    @property
    def n_in(self) -> int:
        return self.shape[0]

    @property
    def n_out(self) -> int:
        return self.shape[1]

    @property
    def n_row_tiles(self) -> int:
        return len(self.row_slices)

    @property
    def n_col_tiles(self) -> int:
        return len(self.col_slices)

    @property
    def _mid_reference(self) -> bool:
        return self.config.mapping == "offset" and self.config.offset_reference == "mid"

    @property
    def g_ref(self) -> float:
        """Reference conductance of offset mode (S): mid-window or g_min."""
        return 0.5 * (self.g_lo + self.g_hi) if self._mid_reference else self.g_lo

    @property
    def w_min(self) -> float:
        """Lowest representable weight: ``-w_max``, or 0 for an offset map referenced at g_min."""
        unsigned = self.config.mapping == "offset" and not self._mid_reference
        return 0.0 if unsigned else -self.w_max

    @property
    def v_read_V(self) -> float:
        """Full-scale read voltage (config override, else the card's)."""
        return self.config.v_read_V or self.device.v_read_V

    @property
    def r_wire_Ohm(self) -> float:
        """Wire resistance per cell segment (config override, else the card's), Ohm."""
        r = self.config.r_wire_Ohm
        return float(self.device.r_wire_Ohm if r is None else r)

    def tile_slices(self) -> list[tuple[slice, slice]]:
        """``(row_slice, col_slice)`` of every tile, row tile by row tile."""
        return [(rs, cs) for rs in self.row_slices for cs in self.col_slices]

    # -- mapping ----------------------------------------------------------------------------

    def program(self, W, *, verify: tuple[float, int] | None = None,
                rng: np.random.Generator | None = None) -> None:
        """Map ``W`` to conductances and program every device (W clipped to [w_min, w_max]).

        Without ``verify`` each device is set directly (``DeviceArray.program``). With
        ``verify = (tol_S, max_pulses)`` every data device is programmed by write-verify
        (``PulseArray.write_verify``: pulses through the device model, read, re-pulse until
        within ``tol_S`` or ``max_pulses`` per cell; ``rng`` draws C2C and read noise); the
        summed statistics land in :attr:`programming`. Offset reference cells sit at their
        reference by construction and are not re-programmed.
        """
        W = np.asarray(W, dtype=np.float64)
        if W.shape != self.shape:
            raise ConfigError(f"expected weights of shape {self.shape}, got {W.shape}", key="W")
        if not np.all(np.isfinite(W)):
            raise ConfigError("weights must be finite", key="W")
        W = np.clip(W, self.w_min, self.w_max)
        if self.config.mapping == "differential":
            targets = [(self.arrays[0], self.g_lo + np.maximum(W, 0.0) / self.w_per_S),
                       (self.arrays[1], self.g_lo + np.maximum(-W, 0.0) / self.w_per_S)]
        else:
            targets = [(self.arrays[0], self.g_ref + W / self.w_per_S)]
        if verify is None:
            for array, g in targets:
                array.program(g)
            return
        if not hasattr(self.arrays[0], "write_verify"):
            raise ConfigError(f"write-verify programming needs a pulse-kind device, not "
                              f"{self.device.kind!r}", key="verify")
        tol_S, max_pulses = verify
        total: dict = {}
        for array, g in targets:
            stats = array.write_verify(g, rng, tol_S=tol_S, max_pulses=max_pulses)
            for k, v in stats.items():
                if k in ("tol_S", "max_pulses"):
                    total[k] = v
                elif k == "max_pulses_per_cell":
                    total[k] = max(total.get(k, 0), v)
                else:
                    total[k] = total.get(k, 0) + v
        self.programming = total

    def conductances(self) -> tuple[np.ndarray, np.ndarray]:
        """Noise-free conductances (S): ``(G+, G-)`` or ``(G, G_ref)`` (copies; an ideal
        reference as a full ``(n_in, n_col_tiles)`` array)."""
        gs = tuple(a.conductance_S.copy() for a in self.arrays)
        return gs + self._ideal_reference()

    def _ideal_reference(self) -> tuple:
        if self.reference_S is None:
            return ()
        return (np.full((self.n_in, self.n_col_tiles), self.reference_S),)

    def effective_conductance(self, gs=None) -> np.ndarray:
        """``G+ - G-`` or ``G - G_ref`` (n_in x n_out, S) of ``gs`` (default: noise-free)."""
        gs = self.conductances() if gs is None else gs
        if self.config.mapping == "differential":
            return gs[0] - gs[1]
        return gs[0] - gs[1][:, self.col_tile_of]

    def weights(self) -> np.ndarray:
        """The weights the devices hold now (inverse map of the noise-free conductances)."""
        return self.effective_conductance() * self.w_per_S

    # -- read -------------------------------------------------------------------------------

    def read_conductances(self, rng=None, t_s=None) -> tuple[np.ndarray, ...]:
        """One read of every array: drift at ``t_s`` and read noise (``DeviceArray.read``)."""
        return tuple(a.read(rng=rng, t_s=t_s) for a in self.arrays) + self._ideal_reference()

    def transfer_conductances(self, gs=None) -> tuple[np.ndarray, ...]:
        """What one volt on each row alone delivers to each column, per physical array (S).

        With ideal wires these are the conductances themselves. With wire resistance the
        tile's resistive network (:mod:`neuromem.irdrop`) is linear in the row voltages, so
        ``T[i, j]`` (the current into column ``j``'s sense amplifier per volt on row ``i``,
        the other rows of the tile at 0 V) gives every read exactly by superposition:
        ``I_j = sum_i V_i T[i, j]`` for any set of rows driven together. Returns
        ``(T+, T-)``, or ``(T, T_ref)`` (offset: the reference column is read on the same
        row wires as its tile; an ideal reference is returned as is), each the shape of
        :meth:`conductances`; ``gs`` defaults to the noise-free conductances.
        """
        gs = self.conductances() if gs is None else gs
        r = self.r_wire_Ohm
        if r == 0:
            return tuple(np.array(g, dtype=np.float64) for g in gs)
        method = self.config.ir_drop_method
        out = [np.empty_like(gs[0]), np.array(gs[1], dtype=np.float64)]
        if self.config.mapping == "differential":
            out[1] = np.empty_like(gs[1])
        for rs in self.row_slices:
            eye = np.eye(rs.stop - rs.start)
            for c, cs in enumerate(self.col_slices):
                if self.config.mapping == "differential":
                    out[0][rs, cs] = ir_drop_currents(gs[0][rs, cs], eye, r, method=method)
                    out[1][rs, cs] = ir_drop_currents(gs[1][rs, cs], eye, r, method=method)
                elif self.reference_S is not None:
                    out[0][rs, cs] = ir_drop_currents(gs[0][rs, cs], eye, r, method=method)
                else:
                    t = ir_drop_currents(np.hstack([gs[0][rs, cs], gs[1][rs, c:c + 1]]), eye, r,
                                         method=method)
                    out[0][rs, cs] = t[:, :-1]
                    out[1][rs, c] = t[:, -1]
        return tuple(out)

    def _noisy(self, rng) -> bool:
        return rng is not None and self.device.read_noise_sigma > 0

    def _tile_currents(self, v2: np.ndarray, gs) -> np.ndarray:
        """Partial column currents (k, n_row_tiles, n_out) of voltages v2 (k, n_in)."""
        out = np.zeros((v2.shape[0], self.n_row_tiles, self.n_out))
        cfg = self.config
        if self.r_wire_Ohm == 0:
            geff = self.effective_conductance(gs)
            for r, rs in enumerate(self.row_slices):
                out[:, r, :] = v2[:, rs] @ geff[rs, :]
            return out
        for r, rs in enumerate(self.row_slices):
            v = v2[:, rs]
            active = np.any(v != 0, axis=1)
            if not active.any():
                continue
            v = v[active]
            for c, cs in enumerate(self.col_slices):
                if cfg.mapping == "differential":
                    out[active, r, cs] = (self._wire_read(gs[0][rs, cs], v)
                                          - self._wire_read(gs[1][rs, cs], v))
                elif self.reference_S is not None:      # an ideal reference, no wires
                    out[active, r, cs] = (self._wire_read(gs[0][rs, cs], v)
                                          - v @ gs[1][rs, c:c + 1])
                else:
                    i_all = self._wire_read(np.hstack([gs[0][rs, cs], gs[1][rs, c:c + 1]]), v)
                    out[active, r, cs] = i_all[:, :-1] - i_all[:, -1:]
        return out

    def _wire_read(self, g_tile: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Column currents of one physical tile with wire resistance.

        The network is linear, so with more input vectors than rows it is cheaper to solve
        for each row's unit response once (the tile's transfer matrix) and multiply.
        """
        cfg = self.config
        if v.shape[0] > g_tile.shape[0]:
            transfer = ir_drop_currents(g_tile, np.eye(g_tile.shape[0]), self.r_wire_Ohm,
                                        method=cfg.ir_drop_method)
            return v @ transfer
        return ir_drop_currents(g_tile, v, self.r_wire_Ohm, method=cfg.ir_drop_method)

    def _currents(self, v2: np.ndarray, rng, t_s) -> np.ndarray:
        """Tile currents of each voltage vector, one array read per vector when noisy."""
        if not self._noisy(rng):
            return self._tile_currents(v2, self.read_conductances(rng, t_s))
        out = np.empty((v2.shape[0], self.n_row_tiles, self.n_out))
        for k in range(v2.shape[0]):
            out[k:k + 1] = self._tile_currents(v2[k:k + 1], self.read_conductances(rng, t_s))
        return out

    def _voltages(self, v_V) -> tuple[np.ndarray, bool]:
        v = np.asarray(v_V, dtype=np.float64)
        if v.ndim not in (1, 2) or v.shape[-1] != self.n_in or not np.all(np.isfinite(v)):
            raise ConfigError(f"expected finite inputs of shape ({self.n_in},) or "
                              f"(k, {self.n_in}), got {v.shape}", key="x")
        return np.ascontiguousarray(np.atleast_2d(v)), v.ndim == 1

    def tile_currents(self, v_V, *, rng=None, t_s=None) -> np.ndarray:
        """Per-row-tile partial column currents (A) for row voltages ``v_V`` (V).

        Parameters
        ----------
        v_V : array_like, shape (n_in,) or (k, n_in)
            Row drive voltages; a 2-D array is ``k`` separate reads.
        rng : numpy.random.Generator, optional
            Read noise source (needed when the card has read noise); one draw per read.
        t_s : float, optional
            Time since programming, for retention drift.

        Returns
        -------
        ndarray, shape (n_row_tiles, n_out) or (k, n_row_tiles, n_out)
            Row ``r`` holds what row tile ``r``'s sense amplifiers see: ``I+ - I-`` (or
            ``I - I_ref``), including IR drop when :attr:`r_wire_Ohm` ``> 0``.
        """
        v2, single = self._voltages(v_V)
        out = self._currents(v2, rng, t_s)
        return out[0] if single else out

    def column_currents(self, v_V, *, rng=None, t_s=None) -> np.ndarray:
        """Column currents (A): the tile partial sums added over row tiles."""
        return self.tile_currents(v_V, rng=rng, t_s=t_s).sum(axis=-2)

    def event_currents(self, rows, v_V=None, *, rng=None, t_s=None) -> np.ndarray:
        """Column currents (A) when only ``rows`` are driven (at ``v_V``, default v_read).

        Uses the event-driven kernel (cost proportional to the active rows); with wire
        resistance the tiled IR-drop read is used instead.
        """
        rows = np.ascontiguousarray(rows, dtype=np.int64).ravel()
        if rows.size and (rows.min() < 0 or rows.max() >= self.n_in):
            raise ConfigError(f"row index out of range for {self.n_in} rows", key="rows")
        v = np.ascontiguousarray(np.broadcast_to(
            self.v_read_V if v_V is None else np.asarray(v_V, dtype=np.float64), rows.shape))
        if self.r_wire_Ohm > 0:
            full = np.zeros(self.n_in)
            np.add.at(full, rows, v)
            return self.column_currents(full, rng=rng, t_s=t_s)
        gs = self.read_conductances(rng, t_s)
        out = np.zeros(self.n_out)
        if self.config.mapping == "differential":
            _k.accumulate_rows_diff(rows, v, np.ascontiguousarray(gs[0]),
                                    np.ascontiguousarray(gs[1]), out)
        else:
            _k.accumulate_rows(rows, v, np.ascontiguousarray(self.effective_conductance(gs)),
                               out)
        return out

    # -- MAC mode ---------------------------------------------------------------------------

    def adc_full_scale(self) -> np.ndarray:
        """ADC full-scale current per tile (A), shape ``(n_row_tiles, n_col_tiles)``.

        See the module Notes for the three ``adc_range`` choices.
        """
        cfg = self.config
        shape = (self.n_row_tiles, self.n_col_tiles)
        if cfg.adc_range == "fixed":
            return np.full(shape, cfg.adc_full_scale_A)
        if cfg.adc_range == "worst_case":
            per_cell = (self.g_hi - self.g_lo) * (0.5 if self._mid_reference else 1.0)
            fs = np.full(shape, self.v_read_V * cfg.tile_rows * per_cell)
            if self.column_gain is not None:
                fs *= np.array([self.column_gain[cs].max() for cs in self.col_slices])[None]
            return fs
        mag = np.abs(self.effective_conductance())
        if self.column_gain is not None:
            mag = mag * self.column_gain
        fs = np.empty(shape)
        for r, rs in enumerate(self.row_slices):
            col_sums = mag[rs].sum(axis=0)
            for c, cs in enumerate(self.col_slices):
                fs[r, c] = self.v_read_V * col_sums[cs].max()
        return fs

    def adc_lsb(self) -> np.ndarray | None:
        """ADC step per tile (A): ``2 I_fs / (2^B - 1)``; None for an ideal ADC."""
        bits = self.config.adc_bits
        return None if bits is None else 2.0 * self.adc_full_scale() / (2.0 ** bits - 1.0)

    def drive(self, x, x_max: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
        """DAC: row voltages per cycle for inputs ``x`` (module Notes).

        Returns
        -------
        v : ndarray, shape (n_cycles, k, n_in)
            Row voltages (V) of each cycle and input vector.
        weight : ndarray, shape (n_cycles,)
            Digital weight of each cycle's result (``2^t / L`` bit-serial, else 1).
        x_max : float
            The input mapped to ``v_read`` (given, else ``max |x|``, else 1).
        """
        x2, _ = self._voltages(x)
        if x_max is None:
            peak = float(np.max(np.abs(x2))) if x2.size else 0.0
            x_max = peak if peak > 0 else 1.0
        if not (x_max > 0 and math.isfinite(x_max)):
            raise ConfigError(f"expected x_max > 0, got {x_max!r}", key="x_max")
        cfg, v_read = self.config, self.v_read_V
        mag = np.minimum(np.abs(x2) / x_max, 1.0)
        sign = np.sign(x2)
        if cfg.dac_bits is None:
            return (sign * mag * v_read)[None], np.ones(1), float(x_max)
        levels = 2 ** cfg.dac_bits - 1
        code = np.rint(mag * levels).astype(np.int64)
        if cfg.dac_mode == "multibit":
            return (sign * code * (v_read / levels))[None], np.ones(1), float(x_max)
        t = np.arange(cfg.dac_bits)
        bits = (code[None] >> t[:, None, None]) & 1
        return sign[None] * bits * v_read, 2.0 ** t / levels, float(x_max)

    def mac(self, x, *, x_max: float | None = None, rng=None,
            t_s: float | None = None) -> tuple[np.ndarray, dict]:
        """Matrix-vector product ``x @ W`` through DAC, crossbar tiles and ADC.

        Parameters
        ----------
        x : array_like, shape (n_in,) or (k, n_in)
            Inputs (signed; driven with bipolar voltages).
        x_max : float, optional
            Input mapped to the full read voltage; default ``max |x|`` of this call.
        rng : numpy.random.Generator, optional
            Read noise: a fresh array read per input vector and cycle.
        t_s : float, optional
            Time since programming (retention drift).

        Returns
        -------
        y : ndarray, shape (n_out,) or (k, n_out)
            The quantised result in weight units (``~ x @ W``).
        counts : dict of str to int
            Events of this call (module ``COUNT_KEYS``), each summed over vectors and cycles:

            ``cycles``
                read cycles with at least one driven row;
            ``dac_drives``
                row drivers driving a non-zero voltage (a row of the matrix has one driver
                in each column tile);
            ``cell_reads``
                devices conducting a read current: 2 per cell of a driven row (G+ and G-),
                or 1 per cell plus the tile's reference cell (offset);
            ``tile_reads``
                (tile, cycle) pairs with at least one driven row;
            ``adc_conversions``
                data columns of every tile read (tiles with no driven row are not
                converted: their output is known to be 0);
            ``shift_adds``
                ADC results accumulated into an output register that already holds a value
                (over row tiles and bit-serial cycles; the first value is written, not
                added);
            ``tiles_used``
                distinct physical tiles read at least once in this call.
        """
        x2, single = self._voltages(x)
        v, cycle_weight, x_max = self.drive(x2, x_max)
        n_cyc, k = v.shape[0], v.shape[1]
        flat = v.reshape(n_cyc * k, self.n_in)
        currents = self._currents(flat, rng, t_s).reshape(n_cyc, k, self.n_row_tiles, self.n_out)
        if self.column_gain is not None:
            currents = currents * self.column_gain
        lsb = self.adc_lsb()
        if lsb is not None:
            half = 2 ** (self.config.adc_bits - 1)
            step = lsb[:, self.col_tile_of]                       # (n_row_tiles, n_out)
            safe = np.where(step > 0, step, 1.0)
            code = np.clip(np.rint(currents / safe), -half, half - 1)
            currents = np.where(step > 0, code * step, 0.0)
        y = np.einsum("t,tkrj->kj", cycle_weight, currents)
        y *= x_max / self.v_read_V * self.w_per_S
        counts = self._count(flat.reshape(n_cyc, k, self.n_in) != 0)
        return (y[0] if single else y), counts

    def _count(self, active: np.ndarray) -> dict:
        """Exact event counts from the driven-row mask ``active`` (cycles, k, n_in)."""
        n_act = np.stack([active[:, :, rs].sum(axis=2) for rs in self.row_slices], axis=2)
        tile_on = n_act > 0                                        # (cycles, k, row tiles)
        n_ct = self.n_col_tiles
        drives = int(n_act.sum())
        per_drive = 2 * self.n_out if self.config.mapping == "differential" \
            else self.n_out + n_ct
        written = tile_on.sum(axis=(0, 2))                         # results per output, per k
        return {
            "cycles": int(np.any(active, axis=2).sum()),
            "dac_drives": drives * n_ct,
            "cell_reads": drives * per_drive,
            "tile_reads": int(tile_on.sum()) * n_ct,
            "adc_conversions": int(tile_on.sum()) * self.n_out,
            "shift_adds": int(np.maximum(written - 1, 0).sum()) * self.n_out,
            "tiles_used": int(np.any(tile_on, axis=(0, 1)).sum()) * n_ct,
        }


def mac(crossbar: Crossbar, x, **kwargs) -> tuple[np.ndarray, dict]:
    """``crossbar.mac(x, **kwargs)``: quantised ``x @ W`` and its event counts."""
    return crossbar.mac(x, **kwargs)

