"""Protocols: every setting is checked when a protocol is made; the registry lists valid names."""

from __future__ import annotations

import dataclasses
import re
from typing import get_args

import pytest

from dbdbench.metrics import METRICS, PROTOCOLS, Protocol, get_protocol
from dbdbench.metrics.handlers import HANDLERS
from dbdbench.metrics.protocols import BestF
from dbdbench.settings import literal_fields

#: one value per setting that a protocol must refuse
BAD_VALUES = {
    "name": "",
    "positive": "blurry",
    "gt_threshold": 1.5,
    "gt_strict": "yes",
    "normalize": "min-max",
    "levels": "ceil",
    "thresholds": (0.5, 0.2),
    "curve_endpoint": 1,
    "curve_average": "image",
    "adaptive_factor": 0.0,
    "binary_threshold": -0.1,
    "binary_strict": None,
    "best_f": "zhao",
    "empty_mask": "matlab",
    "zero_pr_f": "inf",
    "zero_maps": "all",
    "beta2": -1.0,
    "wf_beta2": 0.0,
    "metrics": ("mae", "maxF"),
    "primary": "auc",
    "columns": ("mae", "maxF"),
    "headline": "auc",
}
FREE_TEXT = {"description", "source"}


def test_every_setting_has_a_bad_value_case():
    """The table above covers every field, so a new setting cannot be added unchecked."""
    assert set(BAD_VALUES) | FREE_TEXT == {f.name for f in dataclasses.fields(Protocol)}


@pytest.mark.parametrize(("key", "value"), list(BAD_VALUES.items()), ids=list(BAD_VALUES))
def test_unknown_setting_value_raises(key, value):
    settings = {"name": "x", "description": "", "source": ""} | {key: value}
    with pytest.raises(ValueError, match=key):
        Protocol(**settings)


@pytest.mark.parametrize("key", ["positive", "normalize", "levels", "curve_average", "best_f", "empty_mask",
                                 "zero_pr_f", "zero_maps"])
def test_error_lists_the_valid_values(key):
    valid = literal_fields(Protocol)[key]
    with pytest.raises(ValueError) as info:
        Protocol(name="x", description="", source="", **{key: "nonsense"})
    assert all(repr(v) in str(info.value) for v in valid)


def test_thresholds_go_with_search_levels():
    with pytest.raises(ValueError, match="levels='search'"):
        Protocol(name="x", description="", source="", levels="search")
    with pytest.raises(ValueError, match="levels='round'"):
        Protocol(name="x", description="", source="", thresholds=(0.0, 0.5))


def test_registered_protocols_are_valid_and_resolvable():
    for name, proto in PROTOCOLS.items():
        assert get_protocol(name) is proto
        assert set(proto.metrics) <= set(METRICS)
        assert proto.primary in proto.metrics and proto.headline in proto.metrics
        assert get_protocol(proto) is proto


def test_unknown_protocol_lists_valid_names():
    with pytest.raises(KeyError, match=re.escape(f"valid: {', '.join(PROTOCOLS)}")):
        get_protocol("sod")


def test_every_best_f_value_names_a_handler():
    assert set(get_args(BestF)) == set(HANDLERS)


def test_primary_defaults_to_max_f_or_the_first_metric():
    assert Protocol(name="x", description="", source="").primary == "max_f"
    assert Protocol(name="x", description="", source="", metrics=("mae", "auc")).primary == "mae"


def test_headline_defaults_to_max_f_or_the_primary_score():
    assert Protocol(name="x", description="", source="", primary="auc",
                    metrics=("max_f", "auc")).headline == "max_f"
    assert Protocol(name="x", description="", source="", metrics=("mae", "auc"), primary="auc").headline == "auc"


def test_settings_are_json_ready_and_leave_out_presentation():
    s = get_protocol("zhao").settings()
    assert isinstance(s["thresholds"], list) and isinstance(s["metrics"], list)
    assert "primary" not in s and "headline" not in s and "columns" not in s
    assert Protocol(**{k: v for k, v in s.items()} | {"thresholds": tuple(s["thresholds"]),
                                                      "metrics": tuple(s["metrics"])}).settings() == s
