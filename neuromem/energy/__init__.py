"""Energy and latency of a network in spiking mode and in MAC mode, from counted events.

Both modes run the same layer on the same device card. The **spiking** mode is event-driven:
each input spike drives one crossbar row and the column currents charge the neurons. The
**MAC** mode is a conventional ReRAM matrix-vector accelerator: DACs drive the rows, ADCs
convert each tile's column currents, digital logic shifts and adds the partial sums. Energy
is the counted events of a real run (:data:`neuromem.network.EVENT_NAMES`,
:data:`neuromem.crossbar.COUNT_KEYS`) times per-operation constants from a technology preset
(:func:`load_tech`: ``isaac_32nm``, ``neurram_130nm``, ``spikesim_65nm``, or a TOML file),
each constant with its source next to it. No constant lives in this code.

Notes
-----
Energy per inference, summed over components (counts divided by ``n_inferences``).
``V``, ``t`` are the device card's ``v_read_V``, ``t_read_s``; ``G`` the conductance per
cell read (:class:`ConductanceStats`: the mean over the cells each row activation reads, or
a per-row sum weighted by how often each row was read).

Spiking (:func:`spiking_energy`, preset ``[spiking]``)::

    row_drivers    row_activations x row_driver_J            a 1-bit read pulse on a row
    cell_reads     cells_read x V^2 G t                      every cell of a driven row
    neurons        neuron_updates x neuron_update_J          per neuron per step
    neuron_adc     active_steps x n_out x R x adc_J          digital neurons only: each row
    partial_sums   active_steps x n_out x (R - 1) x mac.shift_add_J     tile's partial sum
    spikes         output_spikes x spike_J                   firing and reset
    inhibition     inhibition_events x (n_out - 1) x inhibition_J    one per inhibited neuron
    spike_routing  (input_spikes + output_spikes) x event_bits x buffer.bit_J
    writes         ltp_pulses x V_ltp^2 G_w t_ltp + ltd_pulses x V_ltd^2 G_w t_ltd

``n_out = neuron_updates / steps``; ``R = ceil(n_in / spiking.tile_rows)``; an analog
neuron integrates the column current itself (no converter). A differential pair's
push-pull update SETs one device and RESETs the other while the engine counts the pulses by
the sign of the weight change, so there half the pulses are charged at each polarity.
``G_w`` is ``ConductanceStats.mean_write_S`` (the card's pulse form, Vw^2 (G_before +
G_after)/2 t_w, with the mean conductance standing in for the pair's average).

MAC (:func:`mac_energy`, preset ``[mac]``)::

    dac            dac_drives x dac_J(1 bit if bit-serial, else dac_bits)
    cell_reads     cell_reads x V^2 <(V_i / V)^2> G t        bit-serial drives are at V
    adc            adc_conversions x adc_J(adc_bits)         BitTable.at: log-linear
    column_sense   adc_conversions x column_sense_J          sample-and-hold / integrator
    shift_add      shift_adds x shift_add_J
    buffer         (n_in x input_bits + n_out x output_bits) x buffer.bit_J
    activation     n_out x activation_J                      ReLU / compare per output

Buffer traffic is charged once per bit per layer in both modes: a MAC layer reads its
input vector and writes its outputs; a spiking layer reads each input spike's address
event and writes each output spike's. Static (leakage) power, clocking, the network on chip
between tiles and weight programming before inference are not modelled in either mode.

Latency per inference (the inputs of one inference processed one after another):

- spiking: ``steps x dt_s`` when ``dt_s`` is known (the network runs in the time its
  neurons' time constants are written in: analog membranes integrate in real time);
  otherwise, and always as ``details["latency_accelerated_s"]``, ``steps x
  spiking.step_time_s`` (a time-scaled implementation reading one step's rows in one
  crossbar cycle);
- MAC: ``cycles x max(mac.cycle_time_s, adc_share / mac.adc_rate_Hz)``: cycles with a
  driven row (bit-serial: up to ``dac_bits`` per input vector), each lasting the longer of
  the crossbar read and the conversion of the columns sharing one ADC (read and conversion
  pipelined, row and column tiles in parallel).

A latency is None when the preset has no timing constant for it.

Energy inputs of a result file (the contract a task writes)
-----------------------------------------------------------
``neuromem energy RESULT.h5`` reads ``result.extra["energy_inputs"]`` (``TaskResult.extra``,
stored as the ``/extra`` JSON; a ``metrics["energy_inputs"]`` tree is read when ``extra`` has
none). Both sections are optional, at least one is needed; counts are totals over the
``n_inferences`` test samples::

    extra["energy_inputs"] = {
      "spiking": {
        "events": {...},          # required: RunResult.events of the test phase
        "n_inferences": 540,      # required: samples those events were summed over
        "dt_s": 0.0005,           # optional: real-time latency steps x dt
        "n_in": 64,               # optional (required by digital-neuron presets)
        "active_steps": 51234,    # optional: steps with >= 1 input spike, summed
        "conductance": {...},     # optional, see below; default: state/g_pos_S (+ g_neg_S,
                                  #   else a reference cell at the card's g_min)
        "device": {...},          # optional: a device card dict; default cards["device"]
        "accuracy": 0.87,         # optional; default metrics["accuracy"]
      },
      "mac": {
        "counts": {...},          # required: Crossbar.mac counts summed over the test set
        "n_inferences": 540,      # required: input vectors
        "dac_bits": 8, "adc_bits": 8,   # required (CrossbarConfig)
        "n_in": 64, "n_out": 200,       # required: layer shape (buffer traffic)
        "dac_mode": "bit_serial",       # optional (default), or "multibit"
        "adc_share": 8,                 # optional (default 1): columns per ADC (latency)
        "conductance": {...},     # optional: the MAC crossbar's, e.g.
                                  #   conductance_stats_of(crossbar).to_dict(); default
                                  #   state arrays (noted in the report's assumptions)
        "drive_v2_fraction": 0.3, # optional (multibit): drive_v2_fraction(x, dac_bits)
        "input_bits": 9, "output_bits": 16,   # optional
        "device": {...},          # optional, as above
        "accuracy": 0.90,         # optional
        "mac_array": "same",      # optional: "same" (the layer's own cells) or "fresh"
        "programming": {...},     # optional ("fresh"): PulseArray.write_verify statistics,
                                  #   pulses and write_energy_J of the one-off programming
      },
      "accuracy": {"spiking": 0.87, "mac": 0.90},   # optional, instead of the per-mode key
    }
    conductance = {"mean_read_S": 4.2e-6, "mean_write_S": 4.0e-6, "mapping": "single",
                   "row_read_S": [...], "row_activations": [...], "cells_per_row": 201}
                   # ConductanceStats.to_dict(); only mean_read_S is required

The report is stored (unless ``--no-store``) as ``metrics/energy/<tech>``: ``{"tech",
"tech_summary", "spiking": EnergyReport.to_dict() + {"accuracy"}, "mac": ...,
"ratio_spiking_over_mac", "computed_utc", "neuromem_version"}``; the mac entry carries
``mac_array`` and, for a fresh array, ``programming`` (one-off, not per inference) (``assumptions`` stored
as one ``"; "``-separated string, ``""`` when none), rewriting the file
atomically with all its other content (provenance included) unchanged
(:func:`store_energy`). ``neuromem energy --json`` prints the same dict.

Examples
--------
>>> from neuromem.energy import load_tech, spiking_energy
>>> from neuromem.cards import load_device
>>> tech = load_tech("isaac_32nm")
>>> events = {"input_spikes": 4, "row_activations": 4, "cells_read": 12, "neuron_updates": 10,
...           "output_spikes": 0, "steps": 5}
>>> rep = spiking_energy(events, 5e-6, load_device("ideal"), tech, n_inferences=1)
>>> round(rep.breakdown_J["cell_reads"] / 1e-15, 6)   # 12 x 0.5^2 V^2 x 5 uS x 10 ns, fJ
150.0
"""

from neuromem.energy.model import (MAC_COMPONENTS, SPIKING_COMPONENTS, ConductanceStats,
                                   EnergyReport, conductance_stats, conductance_stats_of,
                                   drive_v2_fraction, mac_energy, spiking_energy,
                                   uniform_drive_v2_fraction)
from neuromem.energy.synthetic import mac_counts, spiking_events
from neuromem.energy.tech import (BitTable, Constant, TechPreset, list_techs, load_tech,
                                  tech_from_mapping)

__all__ = ["TechPreset", "Constant", "BitTable", "load_tech", "list_techs",
           "tech_from_mapping", "ConductanceStats", "EnergyReport", "conductance_stats",
           "conductance_stats_of", "spiking_energy", "mac_energy", "drive_v2_fraction",
           "uniform_drive_v2_fraction", "SPIKING_COMPONENTS", "MAC_COMPONENTS",
           "spiking_events", "mac_counts", "ENERGY_INPUTS_KEY", "energy_inputs",
           "evaluate_result", "store_energy", "format_energy_table"]

#: The result-file face (:mod:`neuromem.energy.results`) sits above the store: loaded on first
#: use, so the energy model itself never imports the store (or h5py).
_RESULTS = ("ENERGY_INPUTS_KEY", "energy_inputs", "evaluate_result", "store_energy",
            "format_energy_table")


def __getattr__(name):
    if name in _RESULTS:
        from neuromem.energy import results
        return getattr(results, name)
    raise AttributeError(f"module 'neuromem.energy' has no attribute {name!r}")
