"""Training objectives of the project's tasks."""

from hypercl.losses.csts import OBJECTIVES, csts_loss, validate_loss_options

__all__ = ["OBJECTIVES", "csts_loss", "validate_loss_options"]
