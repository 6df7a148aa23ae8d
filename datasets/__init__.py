"""Readers for real data and the data modules the trainer consumes.

A data module is any object with:

- ``setup(device, rank=0, world_size=1, seed=0)``: load (lazily) and place the data;
- ``batch_size``: the global batch (all processes together), for throughput;
- ``steps_per_epoch``: optimiser steps in one epoch (of the global batch);
- ``train_batch(epoch, step) -> dict``: this rank's shard of global batch ``step`` of ``epoch``,
  a pure function of its arguments and the seed (so resume needs no loader state);
- ``eval_batches(split) -> Iterator[dict]``: the whole ``split`` (``"val"`` or ``"test"``), in order.

Batches are dicts of tensors on the device; the image modules use ``{"x": images, "y": labels}``,
which is what ``CrossEntropy`` and ``ClassificationEvaluator`` read.
"""
