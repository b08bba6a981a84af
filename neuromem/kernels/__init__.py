"""numba kernels: plain arrays and scalars in, arrays out; no neuromem imports here."""
