"""``nn.Module``s only (no optimisers, data or logging): one family per file, named as its config in ``configs/model/``."""
