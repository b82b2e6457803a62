"""The dataset registry: specs checked when made, lookups that list valid names, TOML registration."""

from __future__ import annotations

import pytest

from dbdbench.datasets import DatasetSpec, get_dataset, list_datasets, register_from_toml
from dbdbench.settings import DECLARED_POLARITIES


def test_registered_specs_are_valid():
    for name in list_datasets():
        spec = get_dataset(name)
        assert spec.gt_white in DECLARED_POLARITIES
        assert get_dataset(name.lower()) is spec


@pytest.mark.parametrize(("key", "value", "match"), [
    ("gt_white", "white", "valid: 'blur', 'sharp', 'unknown'"),
    ("n_images", 0, "n_images"),
    ("stem_pattern", "(", "stem_pattern"),
    ("builder", "no_colon", "module:function"),
    ("folder", "", "folder"),
])
def test_bad_spec_values_raise(key, value, match):
    settings = {"name": "X", "display_name": "X", "folder": "X"} | {key: value}
    with pytest.raises(ValueError, match=match):
        DatasetSpec(**settings)


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(KeyError, match="valid: CUHK"):
        get_dataset("DUTS")


def test_toml_with_a_bad_polarity_is_refused(tmp_path):
    toml = tmp_path / "d.toml"
    toml.write_text('[datasets.MY]\nfolder = "my"\ngt_white = "white"\n')
    with pytest.raises(ValueError, match="gt_white='white'"):
        register_from_toml(toml)
