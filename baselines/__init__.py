"""Baselines for defocus blur detection: hand-crafted methods (numpy) and deep nets (PyTorch).

``baselines`` depends on :mod:`dbdbench`, never the reverse. The deep nets need the ``[baselines]`` extra.
"""
