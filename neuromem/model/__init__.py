"""Trained networks as files: load a run's model, predict, evaluate, stream.

``neuromem run NAME -o R.h5`` stores the trained network under ``/model`` of the result file
(layout: :mod:`neuromem.model.tree`). :func:`load_model` rebuilds it::

    model = neuromem.load_model("kws.h5")
    model.labels                      # ('yes', 'no', ...)
    model.predict(["a.wav", "b.wav"]) # labels, spike counts, probabilities, 'none'
    model.evaluate("folder", data_dir="my_recordings")
    model.stream("long.wav")          # keyword detections with their times
"""

from __future__ import annotations

__all__ = ["load_model", "Model", "MODEL_FORMAT_VERSION"]

from neuromem.model.tree import MODEL_FORMAT_VERSION


def __getattr__(name):
    if name == "Model":
        from neuromem.model.model import Model
        return Model
    raise AttributeError(name)


def load_model(path):
    """Load the trained network of a result file (see :class:`~neuromem.model.model.Model`)."""
    from neuromem.model.model import Model
    return Model.load(path)
