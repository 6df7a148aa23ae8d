"""Objectives (``engine.contracts.Objective``): one family per file, named as its config in ``configs/loss/``."""
