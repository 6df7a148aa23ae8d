"""Evaluators (``engine.contracts.Evaluator``): one per file, named as its config in ``configs/evaluator/``."""
