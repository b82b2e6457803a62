"""The examples in the docstrings of dbdbench and baselines run, module by module (``doctest``).

The doctests are collected here rather than with ``--doctest-modules``: that option also imports every
``conftest.py`` under ``tests/`` as a module named ``conftest``, and two of them clash.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import baselines
import dbdbench

MODULES = sorted(m.name for pkg in (dbdbench, baselines)
                 for m in pkgutil.walk_packages(pkg.__path__, f"{pkg.__name__}.") if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", ["dbdbench", "baselines", *MODULES])
def test_docstring_examples_run(name):
    if name.startswith("baselines"):
        pytest.importorskip("torch", reason="baselines needs torch (pip install dbdbench[torch])")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (see above)"
