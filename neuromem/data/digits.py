"""scikit-learn's 8x8 handwritten digits (real handwriting shipped with scikit-learn).

1,797 images of 43 writers, 16 grey levels (Alpaydin & Kaynak, UCI optdigits). Split with a
fixed, stratified, seeded held-out test set; pixels become Poisson rates.
"""

from __future__ import annotations

import numpy as np

from neuromem.exceptions import ConfigError

__all__ = ["load_digits_split", "intensity_rates", "upscale"]


def load_digits_split(test_fraction: float = 0.3, split_seed: int = 0):
    """(X_train, y_train, X_test, y_test), pixels scaled to [0, 1], stratified by class."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0 < test_fraction < 1:
        raise ConfigError(f"expected a fraction in (0, 1), got {test_fraction!r}",
                          key="data.test_fraction")
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_fraction, stratify=y,
                                              random_state=split_seed)
    return x_tr, y_tr.astype(np.int64), x_te, y_te.astype(np.int64)


def intensity_rates(x: np.ndarray, max_rate_Hz: float, encoding: str = "poisson") -> np.ndarray:
    """Poisson rates (Hz) from intensities in [0, 1].

    ``poisson``: rate = x * max_rate. ``on_off``: ON channel x * max_rate and OFF channel
    (1 - x) * max_rate, doubling the inputs (retina-like pairs).
    """
    x = np.asarray(x, dtype=np.float64)
    if encoding == "poisson":
        return x * max_rate_Hz
    if encoding == "on_off":
        return np.concatenate([x, 1.0 - x], axis=1) * max_rate_Hz
    raise ConfigError(f"expected 'poisson' or 'on_off', got {encoding!r}", key="data.encoding")


def upscale(x: np.ndarray, side: int = 28) -> np.ndarray:
    """Upscale flattened 8x8 images to side x side (bilinear, scipy.ndimage.zoom), in [0, 1]."""
    from scipy.ndimage import zoom

    n = x.shape[0]
    imgs = x.reshape(n, 8, 8)
    out = zoom(imgs, (1, side / 8, side / 8), order=1)
    return np.clip(out, 0.0, 1.0).reshape(n, side * side)
