"""Commands that baselines adds to the ``dbdbench`` group (registered as ``dbdbench.commands`` entry points)."""
