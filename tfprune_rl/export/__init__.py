"""Exporting pruned networks for serving."""

from tfprune_rl.export.saved_model import export_saved_model, saved_kernels, stripped_copy

__all__ = ["export_saved_model", "saved_kernels", "stripped_copy"]
