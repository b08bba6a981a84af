"""Device cards: every built-in card loads; every malformed card is refused clearly."""

import math
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuromem.cards import card_dirs, find_card, list_cards, load_device
from neuromem.exceptions import ConfigError, NeuromemError

REQUIRED_CARDS = ["ag_asi_jo2010", "taox_hfox_wu2018", "pcmo_park2013", "alox_hfo2_woo2016",
                  "epiram_choi2018", "gst_pcm_kuzum2011", "hzo_fefet_jerry2017", "ideal"]

# (levels, R_on [Ohm], on/off, C2C) from REFERENCE.md's device table (NeuroSim V3.0 Table II).
TABLE = {"ag_asi_jo2010": (97, 26e6, 12.5, 0.035), "taox_hfox_wu2018": (128, 100e3, 10, 0.037),
         "pcmo_park2013": (50, 23e6, 6.84, 0.01), "alox_hfo2_woo2016": (40, 16.9e3, 4.43, 0.05),
         "epiram_choi2018": (64, 81e3, 50.2, 0.02), "gst_pcm_kuzum2011": (100, 4.71e3, 19.8, 0.015),
         "hzo_fefet_jerry2017": (32, 559e3, 45, 0.005)}

GOOD = """
name = "mine"
kind = "pulse"
summary = "a test device"
[source]
citation = "nobody"
[parameters]
g_min_S = 1e-6
g_max_S = 1e-5
levels = 64
nonlinearity_ltp = 1.0
nonlinearity_ltd = -1.0
"""


def test_all_built_in_cards_present_and_valid():
    cards = list_cards("synapse_models")
    for name in REQUIRED_CARDS:
        assert name in cards
        card = load_device(name)
        assert card.name == name
        assert card.source.get("citation")
        if name != "ideal":
            assert card.source.get("doi")


@pytest.mark.parametrize("name", sorted(TABLE))
def test_cards_match_the_published_table(name):
    levels, r_on, on_off, c2c = TABLE[name]
    p = load_device(name).params
    assert p.levels == levels
    assert p.g_max_S == pytest.approx(1 / r_on, rel=1e-5)  # cards carry 6 significant digits
    assert p.on_off_ratio == pytest.approx(on_off, rel=1e-5)
    assert p.ctoc_sigma == pytest.approx(c2c)


def test_ideal_card_is_continuous_linear_noise_free():
    p = load_device("ideal").params
    assert p.continuous and math.isinf(p.a_ltp_norm) and math.isinf(p.a_ltd_norm)
    assert p.ctoc_sigma == 0 and p.read_noise_sigma == 0
    assert p.stuck_on_rate == 0 and p.stuck_off_rate == 0


def test_user_card_from_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(GOOD)
    card = load_device(str(path))
    assert card.params.levels == 64 and card.path == path
    assert find_card(str(path), "synapse_models") == path


def _mutate(text, old, new):
    assert old in text
    return text.replace(old, new)


BAD_CASES = [
    ("unknown key", lambda t: t + "g_maks_S = 1e-5\n", "parameters.g_maks_S", "did you mean"),
    ("wrong type", lambda t: _mutate(t, "levels = 64", 'levels = "64"'), "parameters.levels",
     "integer"),
    ("float levels", lambda t: _mutate(t, "levels = 64", "levels = 64.5"), "parameters.levels",
     "integer"),
    ("nan", lambda t: _mutate(t, "g_max_S = 1e-5", "g_max_S = nan"), "parameters.g_max_S",
     "finite"),
    ("negative conductance", lambda t: _mutate(t, "g_min_S = 1e-6", "g_min_S = -1e-6"),
     "parameters.g_min_S", ">= 0"),
    ("gmin >= gmax", lambda t: _mutate(t, "g_min_S = 1e-6", "g_min_S = 2e-5"),
     "parameters.g_min_S", "below g_max_S"),
    ("levels < 2", lambda t: _mutate(t, "levels = 64", "levels = 1"), "parameters.levels",
     ">= 2"),
    ("missing key", lambda t: _mutate(t, "levels = 64\n", ""), "parameters.levels", "missing"),
    ("unknown kind", lambda t: _mutate(t, 'kind = "pulse"', 'kind = "pulsed"'), "kind",
     "did you mean 'pulse'"),
    ("both NL and A", lambda t: t + "a_ltp = 0.5\n", "parameters.a_ltp", "not both"),
    ("bool for float", lambda t: _mutate(t, "g_max_S = 1e-5", "g_max_S = true"),
     "parameters.g_max_S", "number"),
    ("unknown top key", lambda t: "colour = 1\n" + t, "colour", "unknown top-level"),
    ("fraction", lambda t: t + "stuck_on_rate = 1.5\n", "parameters.stuck_on_rate", "[0, 1]"),
    ("rates sum", lambda t: t + "stuck_on_rate = 0.6\nstuck_off_rate = 0.6\n",
     "parameters.stuck_on_rate", "exceed 1"),
]


@pytest.mark.parametrize("label,mutate,key,expect", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_cards_name_file_key_and_expectation(tmp_path, label, mutate, key, expect):
    path = tmp_path / "bad.toml"
    path.write_text(mutate(GOOD))
    with pytest.raises(ConfigError) as info:
        load_device(str(path))
    err = info.value
    assert err.file == str(path)
    assert err.key == key
    assert expect in str(err)
    assert str(path) in str(err)


def test_syntax_error_and_missing_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("name = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_device(str(path))
    with pytest.raises(ConfigError, match="not found"):
        load_device(str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigError, match="did you mean 'taox_hfox_wu2018'"):
        load_device("taox_hfox")


def test_built_in_cards_found_from_checkout():
    dirs = card_dirs("synapse_models")
    assert dirs and all(d.is_dir() for d in dirs)


toml_scalars = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                         st.text(max_size=8), st.booleans(), st.lists(st.integers(), max_size=2))
param_keys = st.sampled_from(["g_min_S", "g_max_S", "levels", "nonlinearity_ltp", "a_ltp",
                              "ctoc_sigma", "continuous", "v_read_V", "stuck_on_rate", "bogus"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(top=st.dictionaries(st.sampled_from(["name", "kind", "summary", "source", "parameters",
                                             "extra"]), toml_scalars, max_size=3),
       params=st.dictionaries(param_keys, toml_scalars, max_size=8),
       kind=st.sampled_from(["pulse", "ion_drift", "vteam", "x"]))
def test_random_card_contents_raise_only_neuromem_errors(top, params, kind):
    from neuromem.cards import device_from_mapping
    data = dict(top)
    data.setdefault("kind", kind)
    data["parameters"] = params
    try:
        card = device_from_mapping(data, file="random.toml")
    except NeuromemError as err:
        assert "random.toml" in str(err)
    else:
        assert card.params.g_min_S < card.params.g_max_S


def test_every_card_file_is_plain_toml():
    for path in list_cards("synapse_models").values():
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        assert data["name"] == path.stem


section_keys = {
    "network": ["n_exc", "w_max", "mapping", "dt_s", "t_present_s", "neurons_per_class",
                "init_scale", "bogus"],
    "neuron": ["tau_mem_s", "v_thresh_V", "synapse", "theta_plus_V", "t_ref_s", "bogus"],
    "stdp": ["rule", "a_plus", "tau_plus_s", "bogus"],
    "delta": ["lr", "loss", "temperature", "batch", "epochs", "bogus"],
    "features": ["time_bins", "max_rate_Hz", "bias", "bogus"],
    "data": ["n_train", "dataset", "n_clips", "snr_db", "bogus"],
    "energy": ["tech", "dac_bits", "adc_bits", "bogus"],
}
network_cards = st.fixed_dictionaries(
    {"task": st.sampled_from(["digits_stdp", "kws"])},
    optional={"device": st.one_of(st.sampled_from(["ideal", "taox_hfox_wu2018", "nope"]),
                                  toml_scalars),
              "seed": toml_scalars, "bogus_top": toml_scalars,
              **{name: st.one_of(st.dictionaries(st.sampled_from(keys), toml_scalars,
                                                 max_size=4), toml_scalars)
                 for name, keys in section_keys.items()}})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(card=network_cards)
def test_random_network_card_contents_raise_only_neuromem_errors(tmp_path_factory, card):
    """Whatever a network card holds, loading and validating it raises neuromem's own errors
    (naming the file) or gives valid sections."""
    from neuromem.cards import load_network_data, resolve_device
    from neuromem.tasks import digits, kws

    path = tmp_path_factory.mktemp("cards") / "random_net.toml"
    # tomllib cannot write: top-level keys first, then one [table] per section.
    lines = []
    for key, value in card.items():
        if not isinstance(value, dict):
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in card.items():
        if isinstance(value, dict):
            lines.append(f"[{key}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in value.items())
    path.write_text("\n".join(lines) + "\n")
    try:
        data, where, dev = load_network_data(path)
        resolve_device(data.get("device", "ideal"), dev, file=where)
        builder = {"digits_stdp": digits.build_sections, "kws": kws.build_sections}[card["task"]]
        builder(data, file=where)
    except NeuromemError as err:
        assert "random_net.toml" in str(err), str(err)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(type(value))
