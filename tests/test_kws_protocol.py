"""The 12-class protocol's metrics and the stored baselines, against hand counts and
scikit-learn."""

import numpy as np
import pytest

from neuromem.tasks.kws import baseline_predict, baseline_tree, keyword_metrics

NAMES = ("yes", "no", "up", "_unknown_", "_silence_")


def test_keyword_metrics_by_hand():
    labels = np.array([0, 0, 1, 2, 3, 3, 4, 4])
    pred = np.array([0, 3, 1, -1, 3, 0, 4, 2])
    # keyword clips 0..3: answered yes, _unknown_, no, nothing -> 2 of 4 rejected
    # non-keyword clips 4..7: _unknown_, yes, _silence_, up -> 2 of 4 accepted as keywords
    scores = np.array([[9, 0, 0, 1, 0], [2, 1, 0, 7, 0], [0, 5, 0, 0, 0], [0, 0, 0, 0, 0],
                       [0, 0, 1, 6, 0], [4, 0, 0, 1, 0], [0, 0, 0, 0, 3], [0, 0, 5, 0, 1]])
    m = keyword_metrics(pred, labels, NAMES, scores)
    assert m["false_reject"] == pytest.approx(2 / 4)
    assert m["false_accept"] == pytest.approx(2 / 4)
    # restricted to the keywords: clip 1's best keyword is yes (2 > 1): right; clip 3 is
    # silent (no spikes at all): wrong -> 3 of 4
    assert m["accuracy_10"] == pytest.approx(3 / 4)


def test_keyword_metrics_without_non_keyword_classes():
    m = keyword_metrics(np.array([0, 1, -1]), np.array([0, 0, 1]), ("a", "b"))
    assert m["accuracy_10"] == pytest.approx(1 / 3)
    assert m["false_accept"] is None and m["false_reject"] == pytest.approx(1 / 3)


def test_stored_baselines_predict_as_scikit_learn():
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 12))
    y = rng.integers(0, 4, 400)
    x = centres[y] + 0.8 * rng.normal(size=(400, 12))
    lr = LogisticRegression(max_iter=500).fit(x[:300], y[:300])
    mlp = MLPClassifier((16,), max_iter=2000, random_state=0).fit(x[:300], y[:300])
    got = baseline_predict(baseline_tree(lr, mlp), x[300:])
    np.testing.assert_array_equal(got["logistic"], lr.predict(x[300:]))
    np.testing.assert_array_equal(got["mlp"], mlp.predict(x[300:]))
