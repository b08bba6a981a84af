"""MAC periphery: DAC drive, ADC ranges and quantisation, shift-add, event counts.

Notes
-----
With input scale ``x_max`` and read voltage ``v_read``:

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
- A column gain (``Crossbar.column_gain``, e.g. a layer's per-column gain) multiplies each
  column's current ahead of its ADC, and the calibrated range with it.
- Output in weight units, summed digitally over row tiles (and cycles)::

      y_j = (x_max / v_read) w_per_S sum_t c_t sum_r ADC(I_rj,t)

  with ``w_per_S`` the map's weight per siemens (``w_max / dG``, ``2 w_max / dG`` for a mid
  reference), so that ``y ~ x @ W``. The ADC error is at most
  ``(x_max / v_read) w_per_S sum_r LSB_r / 2`` per output (``sum_t c_t = 1``).
"""

from __future__ import annotations

import math

import numpy as np

from neuromem.exceptions import ConfigError

__all__ = ["MacPeriphery"]


class MacPeriphery:
    """DAC -> tiles -> ADC execution of a crossbar (mixed into ``Crossbar``)."""

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
