"""Kernels of the crossbar read: event-driven row accumulation and the wire-resistance solve.

Conductance matrices are C-contiguous float64 arrays of shape ``(n_rows, n_cols)``; row
``i`` is an input (word line), column ``j`` an output (bit line). Outputs and work arrays are
preallocated by the caller; nothing here allocates.
"""

from numba import njit


@njit(cache=True)
def accumulate_rows(rows, v, g, out):
    """Add the cell currents of the active rows into the column currents ``out``.

    ``out[j] += sum_k v[k] * g[rows[k], j]`` (Ohm's law per cell, Kirchhoff's current law per
    column). Cost is proportional to ``len(rows) * n_cols``; rows not listed cost nothing.

    Parameters
    ----------
    rows : int64[:]
        Indices of the driven rows (e.g. the inputs that spiked this time step).
    v : float64[:]
        Drive voltage of each listed row, in V (same length as ``rows``).
    g : float64[:, :]
        Cell conductances, in S.
    out : float64[:]
        Column currents, in A, accumulated in place (length ``n_cols``).
    """
    n_cols = out.shape[0]
    for k in range(rows.shape[0]):
        i = rows[k]
        vk = v[k]
        for j in range(n_cols):
            out[j] += vk * g[i, j]


@njit(cache=True)
def accumulate_rows_diff(rows, v, g_pos, g_neg, out):
    """Differential pair: ``out[j] += sum_k v[k] (g_pos[rows[k], j] - g_neg[rows[k], j])``."""
    n_cols = out.shape[0]
    for k in range(rows.shape[0]):
        i = rows[k]
        vk = v[k]
        for j in range(n_cols):
            out[j] += vk * g_pos[i, j] - vk * g_neg[i, j]


@njit(cache=True)
def accumulate_rows_tiled(rows, v, g, tile_rows, out):
    """Per-row-tile partial sums: ``out[rows[k] // tile_rows, j] += v[k] * g[rows[k], j]``.

    ``out`` has shape ``(n_row_tiles, n_cols)``; row ``r`` of it is what the sense amplifiers
    of the tiles in row-tile ``r`` see.
    """
    n_cols = out.shape[1]
    for k in range(rows.shape[0]):
        i = rows[k]
        r = i // tile_rows
        vk = v[k]
        for j in range(n_cols):
            out[r, j] += vk * g[i, j]


@njit(cache=True)
def ir_drop_factor(g, g_t, g_wire, row_cp, row_inv, col_cp, col_inv):
    """Factorise every row-wire and column-wire ladder of a tile once (Thomas algorithm).

    A ladder is tridiagonal with off-diagonals ``-g_wire``. Row wire ``i`` (driver before
    node 0, open after node ``m-1``) has diagonal ``g_wire (2 if j < m-1 else 1) + g[i, j]``;
    column wire ``j`` (open above node 0, virtual ground after node ``n-1``) has
    ``g_wire (2 if i > 0 else 1) + g[i, j]``. Outputs: the modified super-diagonal ``cp`` and
    the reciprocal pivots ``inv`` of each ladder, ``row_*`` of shape ``(n, m)``, ``col_*`` of
    shape ``(m, n)``.
    """
    n = g.shape[0]
    m = g.shape[1]
    for i in range(n):
        cp = 0.0
        for j in range(m):
            den = g_wire * (2.0 if j < m - 1 else 1.0) + g[i, j] + g_wire * cp
            cp = -g_wire / den
            row_cp[i, j] = cp
            row_inv[i, j] = 1.0 / den
    for j in range(m):
        cp = 0.0
        for i in range(n):
            den = g_wire * (2.0 if i > 0 else 1.0) + g_t[j, i] + g_wire * cp
            cp = -g_wire / den
            col_cp[j, i] = cp
            col_inv[j, i] = 1.0 / den


@njit(cache=True)
def _column_sweep(v_scale, g_t, g_wire, col_cp, col_inv, vr, vc, dp):
    """Solve every column wire given the row-wire voltages; return the largest scaled move."""
    m = g_t.shape[0]
    n = g_t.shape[1]
    nb = vr.shape[2]
    change = 0.0
    for j in range(m):
        for b in range(nb):
            dp[0, b] = g_t[j, 0] * vr[0, j, b] * col_inv[j, 0]
        for i in range(1, n):
            gi = g_t[j, i]
            inv = col_inv[j, i]
            for b in range(nb):
                dp[i, b] = (gi * vr[i, j, b] + g_wire * dp[i - 1, b]) * inv
        for b in range(nb):
            d = abs(dp[n - 1, b] - vc[j, n - 1, b]) * v_scale[b]
            if d > change:
                change = d
            vc[j, n - 1, b] = dp[n - 1, b]
        for i in range(n - 2, -1, -1):
            c = col_cp[j, i]
            for b in range(nb):
                x = dp[i, b] - c * vc[j, i + 1, b]
                d = abs(x - vc[j, i, b]) * v_scale[b]
                if d > change:
                    change = d
                vc[j, i, b] = x
    return change


@njit(cache=True)
def _row_sweep(v_in, v_scale, g, g_wire, row_cp, row_inv, vr, vc, dp):
    """Solve every row wire given the column-wire voltages; return the largest scaled move."""
    n = g.shape[0]
    m = g.shape[1]
    nb = vr.shape[2]
    change = 0.0
    for i in range(n):
        inv = row_inv[i, 0]
        for b in range(nb):
            dp[0, b] = (g[i, 0] * vc[0, i, b] + g_wire * v_in[b, i]) * inv
        for j in range(1, m):
            gj = g[i, j]
            inv = row_inv[i, j]
            for b in range(nb):
                dp[j, b] = (gj * vc[j, i, b] + g_wire * dp[j - 1, b]) * inv
        for b in range(nb):
            d = abs(dp[m - 1, b] - vr[i, m - 1, b]) * v_scale[b]
            if d > change:
                change = d
            vr[i, m - 1, b] = dp[m - 1, b]
        for j in range(m - 2, -1, -1):
            c = row_cp[i, j]
            for b in range(nb):
                x = dp[j, b] - c * vr[i, j + 1, b]
                d = abs(x - vr[i, j, b]) * v_scale[b]
                if d > change:
                    change = d
                vr[i, j, b] = x
    return change


@njit(cache=True)
def ir_drop_line_relax(v_in, g, g_t, g_wire, row_cp, row_inv, col_cp, col_inv, tol, max_iter,
                       i_out, vr, vc, dp, v_scale):
    """Column currents of a crossbar tile with resistive wires, by line Gauss-Seidel.

    Alternates exact solves of every column wire (a tridiagonal ladder; row-wire voltages
    held) and of every row wire (column-wire voltages held) until no node voltage moves by
    more than ``tol * max|v_in|`` (per input vector) in a sweep. This is block Gauss-Seidel
    on the network the exact nodal solve factorises, so it converges to that solution (the
    nodal matrix is symmetric positive definite). All vectors of the batch are relaxed
    together (the innermost loops run over the batch).

    Parameters
    ----------
    v_in : float64[:, :]
        Driver voltages, shape ``(nb, n)``, in V.
    g, g_t : float64[:, :]
        Cell conductances ``(n, m)`` and their C-contiguous transpose, in S.
    g_wire : float
        Conductance of one wire segment, 1 / r_wire, in S.
    row_cp, row_inv, col_cp, col_inv : float64[:, :]
        The ladders' factors from :func:`ir_drop_factor`.
    tol : float
        Relative stopping tolerance on node voltages.
    max_iter : int
        Sweep limit.
    i_out : float64[:, :]
        Output: current into each column's virtual ground, ``(nb, m)``, in A.
    vr : float64[:, :, :]
        Work: row-wire node voltages ``(n, m, nb)``.
    vc : float64[:, :, :]
        Work: column-wire node voltages, transposed ``(m, n, nb)``.
    dp : float64[:, :]
        Work: ``(max(n, m), nb)``.
    v_scale : float64[:]
        Work: ``(nb,)``.

    Returns
    -------
    int
        Sweeps done; ``max_iter + 1`` means the batch did not converge.
    """
    n = g.shape[0]
    m = g.shape[1]
    nb = v_in.shape[0]
    for b in range(nb):
        vmax = 0.0
        for i in range(n):
            a = abs(v_in[b, i])
            if a > vmax:
                vmax = a
        v_scale[b] = 1.0 / vmax if vmax > 0.0 else 0.0
    for i in range(n):
        for j in range(m):
            for b in range(nb):
                vr[i, j, b] = v_in[b, i]
                vc[j, i, b] = 0.0
    it = 0
    while True:
        it += 1
        change = _column_sweep(v_scale, g_t, g_wire, col_cp, col_inv, vr, vc, dp)
        change2 = _row_sweep(v_in, v_scale, g, g_wire, row_cp, row_inv, vr, vc, dp)
        if change2 > change:
            change = change2
        if change <= tol or it > max_iter:
            break
    # a last column solve, so the currents belong to the final row-wire voltages
    _column_sweep(v_scale, g_t, g_wire, col_cp, col_inv, vr, vc, dp)
    for b in range(nb):
        for j in range(m):
            i_out[b, j] = g_wire * vc[j, n - 1, b]
    return it
