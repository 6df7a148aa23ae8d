"""Losses (``engine.contracts.Loss``): one family per file, named as its config in ``configs/loss/``."""
