"""The ``/model`` tree of a result file: layout, version and the checks on reading it.

Layout (``model_format_version`` 1)::

    /model            attrs: model_format_version, task
      label_names     str array, in the order of the model's class indices
      engine/         attrs: dt_s, n_present, n_steps, key, samples_seen, test_sample_offset,
                      regular_inputs, normalize_target (-1: off)
      layer/          attrs: n_in, n_out, mapping, w_max; gain (n_out,)
        pos/, neg/    per-cell device arrays g, g_min, g_max, a_ltp, a_ltd, fault
      population/     attrs: n; theta (n,) adaptive thresholds
      readout/        attrs: kind ("class_groups": class spike counts summed over each
                      class's neurons; "neuron_labels": mean count of each class's labelled
                      neurons), decision settings; neuron_class (n_out,)
      inputs/         attrs: kind ("kws_audio", "digits_images") and the encoder settings;
                      fitted normaliser and rate range arrays

The resolved cards (network sections, device, dataset) are the result file's ``/cards``.
Files of a newer ``model_format_version`` are refused with a one-line error naming it.
"""

from __future__ import annotations

from neuromem.exceptions import StoreError
from neuromem.model.state import network_tree

__all__ = ["MODEL_FORMAT_VERSION", "model_tree", "check_model_tree"]

#: Version of the ``/model`` layout this module writes and the newest it reads.
MODEL_FORMAT_VERSION = 1


def model_tree(net, *, task: str, label_names, readout: dict, inputs: dict,
               test_sample_offset: int | None = None) -> dict:
    """Everything inference needs, as the nested dict :func:`neuromem.store.write_result`
    stores under ``/model``."""
    tree = {"model_format_version": MODEL_FORMAT_VERSION, "task": task,
            "label_names": [str(n) for n in label_names]}
    tree.update(network_tree(net, test_sample_offset=test_sample_offset))
    tree["readout"] = dict(readout)
    tree["inputs"] = dict(inputs)
    return tree


def check_model_tree(tree, path) -> dict:
    """The tree of a result file, or a StoreError saying why it cannot be used."""
    from neuromem import __version__

    if tree is None:
        raise StoreError(f"{path}: holds no trained model (written by a neuromem before "
                         "model files, or by a task that stores none); run the network again "
                         "with -o to get one")
    version = tree.get("model_format_version")
    if not isinstance(version, int):
        raise StoreError(f"{path}: damaged model (model_format_version is {version!r})")
    if version > MODEL_FORMAT_VERSION:
        raise StoreError(f"{path}: model format {version} is newer than this neuromem "
                         f"{__version__} reads ({MODEL_FORMAT_VERSION}); upgrade neuromem")
    for key in ("task", "label_names", "engine", "layer", "population", "readout", "inputs"):
        if key not in tree:
            raise StoreError(f"{path}: damaged model (no {key!r} in /model)")
    return tree
