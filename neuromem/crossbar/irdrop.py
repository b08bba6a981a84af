"""Wire resistance (IR drop) in one crossbar tile: the resistive network and its solutions.

Notes
-----
The network of an ``n x m`` tile (rows = inputs, columns = outputs). Every cell ``(i, j)``
has a row-wire node with voltage ``Vr[i, j]`` and a column-wire node ``Vc[i, j]``, joined by
the cell's conductance ``G[i, j]``. Each cell owns one segment of row wire (on its driver
side) and one segment of column wire (on its sense-amplifier side), each of resistance
``r_wire`` (conductance ``g_w = 1 / r_wire``):

- row ``i`` is driven at voltage ``V_i`` from the column-0 end: segments join the driver to
  ``Vr[i, 0]`` and ``Vr[i, j-1]`` to ``Vr[i, j]``; the far end ``Vr[i, m-1]`` is open;
- column ``j`` is sensed at the row-``n-1`` end by a virtual ground (a transimpedance sense
  amplifier at 0 V): segments join ``Vc[i, j]`` to ``Vc[i+1, j]`` and ``Vc[n-1, j]`` to
  ground; the top end ``Vc[0, j]`` is open.

Kirchhoff's current law at every node gives ``2 n m`` linear equations ``A x = b``::

    row node (i, j):  g_w (Vr[i,j-1] - Vr[i,j]) + g_w (Vr[i,j+1] - Vr[i,j])
                      + G[i,j] (Vc[i,j] - Vr[i,j]) = 0          (Vr[i,-1] = V_i, no j+1 at m-1)
    col node (i, j):  g_w (Vc[i-1,j] - Vc[i,j]) + g_w (Vc[i+1,j] - Vc[i,j])
                      + G[i,j] (Vr[i,j] - Vc[i,j]) = 0          (Vc[n,j] = 0, no i-1 at 0)

and the output of column ``j`` is the current into its virtual ground,
``I_j = g_w Vc[n-1, j]``. ``A`` is a symmetric positive definite conductance (Laplacian)
matrix with the drivers and grounds as Dirichlet boundaries. With ``r_wire = 0`` every row
node sits at ``V_i`` and every column node at 0, and ``I_j = sum_i V_i G[i, j]``.

Two solvers of the same equations:

``"exact"``
    assembles ``A`` (unknowns ordered: ``Vr`` row-major, then ``Vc`` row-major) with
    :mod:`scipy.sparse` and factorises it once (``splu``, the factorisation
    ``scipy.sparse.linalg.spsolve`` uses) for all input vectors.
``"iterative"`` (fast, default)
    line Gauss-Seidel in numba (:func:`neuromem.kernels.crossbar.ir_drop_line_relax`): each
    sweep solves every column wire exactly given the row-wire voltages, then every row wire
    given the column-wire voltages (tridiagonal ladders, Thomas algorithm), until no node
    moves by more than ``tol * max|V|``. It needs no matrix, costs ``O(n m)`` per sweep and
    converges to the exact solution: a few sweeps for 32 x 32, ~5-20 sweeps for a 128 x 128
    tile with ``G <= 1e-4 S`` and ``r_wire`` of 1-2.5 Ohm.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from neuromem.exceptions import ConfigError, SimulationError
from neuromem.kernels import crossbar as _k

__all__ = ["nodal_matrix", "ir_drop_currents", "IR_DROP_METHODS"]

IR_DROP_METHODS = ("iterative", "exact")

#: Input vectors relaxed together (the kernel's innermost loops run over them).
_BLOCK = 16


def nodal_matrix(g_S, r_wire_Ohm: float) -> sp.csc_matrix:
    """The conductance matrix ``A`` of a tile's resistive network (see the module Notes).

    Parameters
    ----------
    g_S : array_like, shape (n, m)
        Cell conductances, in S.
    r_wire_Ohm : float
        Resistance of one wire segment, in Ohm (> 0).

    Returns
    -------
    scipy.sparse.csc_matrix, shape (2 n m, 2 n m)
        Unknown ``k = i m + j`` is ``Vr[i, j]``; ``n m + i m + j`` is ``Vc[i, j]``. The
        right-hand side has ``V_i / r_wire`` at unknown ``i m`` (the driven end of row ``i``)
        and zeros elsewhere.
    """
    g = np.asarray(g_S, dtype=np.float64)
    if r_wire_Ohm <= 0:
        raise ConfigError("the nodal matrix needs r_wire_Ohm > 0", key="r_wire_Ohm")
    n, m = g.shape
    nm = n * m
    gw = 1.0 / r_wire_Ohm
    ii, jj = np.divmod(np.arange(nm), m)
    r_node = np.arange(nm)
    c_node = nm + r_node
    gc = g.ravel()
    rows, cols, vals = [], [], []

    def couple(a, b, conductance):
        """Stamp a conductance between node arrays a and b."""
        rows.extend((a, b, a, b))
        cols.extend((a, b, b, a))
        vals.extend((conductance, conductance, -conductance, -conductance))

    couple(r_node, c_node, gc)                                     # the cells
    right = jj < m - 1
    couple(r_node[right], r_node[right] + 1, np.full(right.sum(), gw))   # row wires
    down = ii < n - 1
    couple(c_node[down], c_node[down] + m, np.full(down.sum(), gw))      # column wires
    driven = r_node[jj == 0]                                       # driver -> Vr[i, 0]
    sensed = c_node[ii == n - 1]                                   # Vc[n-1, j] -> ground
    for nodes in (driven, sensed):
        rows.append(nodes)
        cols.append(nodes)
        vals.append(np.full(nodes.size, gw))
    return sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(2 * nm, 2 * nm))


def ir_drop_currents(g_S, v_V, r_wire_Ohm: float, *, method: str = "iterative",
                     tol: float = 1e-10, max_iter: int = 10_000) -> np.ndarray:
    """Column currents of one tile with wire resistance ``r_wire_Ohm`` per cell segment.

    Parameters
    ----------
    g_S : array_like, shape (n, m)
        Cell conductances (as one read sees them), in S.
    v_V : array_like, shape (n,) or (k, n)
        Row driver voltages, in V; a 2-D array is ``k`` input vectors.
    r_wire_Ohm : float
        Resistance of one row- or column-wire segment, in Ohm. 0 gives the ideal ``V @ G``.
    method : {"iterative", "exact"}
        Line Gauss-Seidel in numba, or the sparse direct solve (module Notes).
    tol : float
        Iterative solver: stop when no node voltage moves by more than ``tol * max|V|``.
    max_iter : int
        Iterative solver: sweep limit; not converging raises :class:`SimulationError`.

    Returns
    -------
    ndarray, shape (m,) or (k, m)
        Current into each column's virtual ground, in A.
    """
    g = np.ascontiguousarray(g_S, dtype=np.float64)
    v = np.asarray(v_V, dtype=np.float64)
    single = v.ndim == 1
    v2 = np.ascontiguousarray(np.atleast_2d(v))
    if g.ndim != 2 or v2.ndim != 2 or v2.shape[1] != g.shape[0]:
        raise ConfigError(f"voltages of shape {v.shape} do not drive a tile of shape "
                          f"{g.shape}", key="v_V")
    if method not in IR_DROP_METHODS:
        raise ConfigError(f"unknown IR-drop method {method!r}; expected one of "
                          f"{', '.join(IR_DROP_METHODS)}", key="method")
    if r_wire_Ohm < 0:
        raise ConfigError(f"r_wire_Ohm must be >= 0, got {r_wire_Ohm!r}", key="r_wire_Ohm")
    n, m = g.shape
    if r_wire_Ohm == 0:
        out = v2 @ g
    elif method == "exact":
        rhs = np.zeros((2 * n * m, v2.shape[0]))
        rhs[np.arange(n) * m, :] = v2.T / r_wire_Ohm
        x = spla.splu(nodal_matrix(g, r_wire_Ohm)).solve(rhs)
        out = np.ascontiguousarray(x[n * m + (n - 1) * m:, :].T / r_wire_Ohm)
    else:
        out = np.empty((v2.shape[0], m))
        g_t = np.ascontiguousarray(g.T)
        g_wire = 1.0 / r_wire_Ohm
        factors = (np.empty((n, m)), np.empty((n, m)), np.empty((m, n)), np.empty((m, n)))
        _k.ir_drop_factor(g, g_t, g_wire, *factors)
        work = {}
        for start in range(0, v2.shape[0], _BLOCK):
            chunk = v2[start:start + _BLOCK]
            nb = chunk.shape[0]
            if nb not in work:  # contiguous work arrays, one set per block size
                work[nb] = (np.empty((n, m, nb)), np.empty((m, n, nb)),
                            np.empty((max(n, m), nb)), np.empty(nb))
            sweeps = _k.ir_drop_line_relax(chunk, g, g_t, g_wire, *factors, float(tol),
                                           int(max_iter), out[start:start + nb], *work[nb])
            if sweeps > max_iter:
                raise SimulationError(f"IR-drop relaxation did not converge in {max_iter} "
                                      f"sweeps (tile {n}x{m}, r_wire {r_wire_Ohm:g} Ohm); use "
                                      "method='exact' or smaller tiles")
    return out[0] if single else out
