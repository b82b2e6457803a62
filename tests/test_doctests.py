"""The examples in dbdbench's docstrings run, module by module (``doctest``).

The doctests are collected here rather than with ``--doctest-modules``: that option also imports every
``conftest.py`` under ``tests/`` as a module named ``conftest``, and two of them clash.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import dbdbench

MODULES = sorted(m.name for m in pkgutil.walk_packages(dbdbench.__path__, "dbdbench.") if m.name != "dbdbench.__main__")


@pytest.mark.parametrize("name", ["dbdbench", *MODULES])
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (see above)"
