"""The analog read of a crossbar: Ohm's and Kirchhoff's laws per tile, wire resistance
(IR drop, :mod:`neuromem.crossbar.irdrop`), read noise and retention drift.

A read drives row voltages and sums cell currents per column; each tile's column currents
are partial sums (what an ADC sees in MAC mode). With wire resistance each physical tile is
solved as a resistive network; the network is linear in the row voltages, so the tile's
transfer conductances (current per volt on each row) give every read by superposition.
"""

from __future__ import annotations

import numpy as np

from neuromem.crossbar.irdrop import ir_drop_currents
from neuromem.exceptions import ConfigError
from neuromem.kernels import crossbar as _k

__all__ = ["AnalogRead"]


class AnalogRead:
    """Reads of a :class:`~neuromem.crossbar.cells.CrossbarCells` (mixed into ``Crossbar``)."""

    def read_conductances(self, rng=None, t_s=None) -> tuple[np.ndarray, ...]:
        """One read of every array: drift at ``t_s`` and read noise (``DeviceArray.read``)."""
        return tuple(a.read(rng=rng, t_s=t_s) for a in self.arrays) + self._ideal_reference()

    def transfer_conductances(self, gs=None) -> tuple[np.ndarray, ...]:
        """What one volt on each row alone delivers to each column, per physical array (S).

        With ideal wires these are the conductances themselves. With wire resistance the
        tile's resistive network (:mod:`neuromem.crossbar.irdrop`) is linear in the row voltages, so
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
