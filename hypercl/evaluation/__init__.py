"""Evaluation of trained models: ``csts`` (correlations) and ``kgc`` (filtered link ranking)."""
