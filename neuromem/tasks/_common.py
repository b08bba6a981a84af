"""What every task does once its network is tested: the MAC-mode comparison and the energy of
both modes, and the cards and conductance state of the :class:`~neuromem.tasks.TaskResult`.

A task calls :func:`compare_modes` with its trained layer and test inputs, puts
:meth:`ModeComparison.metrics`, :meth:`ModeComparison.table_row` and
:meth:`ModeComparison.extra` into its metrics, terminal table and result extras, and builds
``state`` and ``cards`` with :func:`conductance_state` and :func:`result_cards`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from neuromem.schema import to_plain
from neuromem.tasks.compare import EnergySection, energy_inputs, energy_summary, mac_mode

__all__ = ["ModeComparison", "compare_modes", "class_counts", "conductance_state",
           "result_cards"]


@dataclasses.dataclass(frozen=True)
class ModeComparison:
    """Accuracy and energy per inference of the spiking run and of MAC mode."""

    accuracy: float          # spiking mode
    mac_accuracy: float
    tech: str
    inputs: dict             # the ``extra["energy_inputs"]`` contract of neuromem.energy
    summary: dict            # energy_summary(...) with the task's preset

    @property
    def spiking_J(self) -> float:
        return self.summary["spiking_J"]

    @property
    def mac_J(self) -> float:
        return self.summary["mac_J"]

    def energy_metrics(self) -> dict:
        """The metrics every task reports beside its accuracy."""
        return {"energy_tech": self.tech, "spiking_energy_per_inference_J": self.spiking_J,
                "mac_energy_per_inference_J": self.mac_J}

    def table_row(self) -> tuple[str, str]:
        return (f"energy / inference ({self.tech})",
                f"spiking {self.spiking_J * 1e9:.3g} nJ, MAC {self.mac_J * 1e9:.3g} nJ")

    def extra(self) -> dict:
        """``energy_inputs`` and ``energy_summary`` for the result file's extras."""
        s = self.summary
        return {"energy_inputs": self.inputs, "energy_summary": {
            "tech": s["tech"], "spiking": s["spiking"], "mac": s["mac"]}}


def compare_modes(layer, unit_inputs: np.ndarray, labels: np.ndarray, *,
                  read_mac: Callable[[np.ndarray], np.ndarray], accuracy: float,
                  test_events: dict, dt_s: float, section: EnergySection, device,
                  rng: np.random.Generator) -> ModeComparison:
    """Run the test inputs (scaled to [0, 1]) through the layer as a MAC accelerator, score
    its answers (``read_mac``: activations (n, n_out) -> class per sample) against
    ``labels``, and price both modes with ``device``'s card and ``section.tech``.

    ``accuracy`` and ``test_events`` are the spiking run's on the same test samples.
    """
    labels = np.asarray(labels)
    y_mac, mac_counts, xbar = mac_mode(layer, unit_inputs, section, rng)
    acc_mac = float(np.mean(read_mac(y_mac) == labels))
    inputs = energy_inputs(layer=layer, xbar=xbar, test_events=test_events,
                           mac_counts=mac_counts, n_test=len(labels), dt_s=dt_s,
                           section=section, acc_spiking=accuracy, acc_mac=acc_mac)
    summary = energy_summary(inputs, device, section.tech)
    return ModeComparison(accuracy, acc_mac, section.tech, inputs, summary)


def class_counts(counts: np.ndarray, per_class: int) -> np.ndarray:
    """Spike counts summed over each class's neurons (neurons are grouped by class)."""
    return counts.reshape(len(counts), -1, per_class).sum(axis=2)


def conductance_state(layer, **state) -> dict:
    """``state`` of a result file: the layer's final conductances (``g_pos_S``, and
    ``g_neg_S`` for differential pairs) and the task's own entries."""
    out = {"g_pos_S": layer.pos.conductance_S.copy(), **state}
    if layer.neg is not None:
        out["g_neg_S"] = layer.neg.conductance_S.copy()
    return out


def result_cards(data: dict, device, sections: dict, **more) -> dict:
    """``cards`` of a result file: the network card as given (without its device), the
    resolved device card, and every validated section (``sections``: name -> dataclass)."""
    return {"network": {k: v for k, v in data.items() if k != "device"},
            "device": device.to_dict(), **more,
            "resolved": {name: to_plain(s) for name, s in sections.items()}}
