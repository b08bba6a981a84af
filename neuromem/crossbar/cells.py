"""The cells of a crossbar and the weight <-> conductance map.

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
"""

from __future__ import annotations

import math

import numpy as np

from neuromem.crossbar.config import CrossbarConfig, tile_bounds
from neuromem.devices.base import DeviceParams
from neuromem.exceptions import ConfigError

__all__ = ["CrossbarCells"]


class CrossbarCells:
    """Device arrays holding a weight matrix in tiles: construction, geometry, mapping.

    The state half of :class:`neuromem.crossbar.Crossbar` (see its parameters).
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
        self.row_slices = tile_bounds(shape[0], self.config.tile_rows)
        self.col_slices = tile_bounds(shape[1], self.config.tile_cols)
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
