"""Ground-truth integrity: the decoded-GT cache (:mod:`~dbdbench.gt.cache`), the check of the masks against a
dataset's pinned digests before scoring (:mod:`~dbdbench.gt.check`) and the dataset checks of ``dbdbench
datasets`` (:mod:`~dbdbench.gt.dataset_check`).

The digests themselves (:mod:`dbdbench.digests`) sit at the bottom of the layers, since the dataset
registry reads a dataset's digest list when it is registered.
"""
