"""Shared fixtures: seeded generators and a scratch copy of a card."""

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
