"""Training recipes: the optimisation settings each paper states, as frozen data."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TrainRecipe:
    """One paper's training recipe, read by the shared trainer.

    The learning rate follows the "poly" schedule ``lr_t = lr * (1 - t / T) ** poly_power`` over
    ``iterations`` steps (``poly_power = 0`` keeps it constant), multiplied by ``lr_step_factor`` once for
    every step in ``lr_steps`` already reached (step decay, e.g. DeFusionNet's x0.1 at 5k iterations).
    ``backbone_lr_mult`` scales the learning rate of parameters whose name starts with ``backbone.`` (some
    papers train the trunk more slowly).

    Attributes
    ----------
    optimizer : {"sgd", "adam", "adamw"}
    lr, momentum, weight_decay, poly_power, backbone_lr_mult, lr_step_factor : float
    lr_steps : tuple of int
    batch_size, iterations, input_size : int
        ``input_size`` is the square training crop/resize side in pixels.
    augment : tuple of str
        Names of the augmentations, applied in order (e.g. ``("hflip", "random_crop")``).
    grad_clamp : float or None
        Elementwise gradient clamp ``g <- clip(g, -c, c)`` before the optimiser step (after unscaling under
        AMP), as some authors' training scripts do; None for no clamp.
    source : str
        Where the numbers come from (paper section or code file), or "reconstructed: ..." with the reason.
    """

    optimizer: str = "sgd"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4
    poly_power: float = 0.9
    backbone_lr_mult: float = 1.0
    batch_size: int = 8
    iterations: int = 10_000
    input_size: int = 320
    augment: tuple[str, ...] = field(default=("hflip",))
    lr_steps: tuple[int, ...] = ()
    lr_step_factor: float = 0.1
    grad_clamp: float | None = None
    source: str = ""
