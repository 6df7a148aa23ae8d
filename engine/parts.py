"""Models made of named parts (a GAN's generator and discriminator, an AAE's encoder).

A model is one ``nn.Module`` (its one part is called ``model``) or a :class:`ModelParts`, built from a
config whose keys are part names, each with its own ``_target_``::

    model:
      generator: {_target_: models.dcgan.DCGANGenerator, ...}
      discriminator: {_target_: models.dcgan.DCGANDiscriminator, ...}

A loss calls the parts by name (``model.generator(z)``); its players say which parts they update.
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn as nn

from engine.errors import ConfigError

SINGLE = "model"  # the name of the one part of a model that is a single module


class ModelParts(nn.ModuleDict):
    """Named parts, called one by one: ``model.generator(z)``, ``model["discriminator"](x)``."""

    def forward(self, *args, **kwargs):  # noqa: D401
        raise ConfigError(f"the model has parts {list(self)} and is not called itself, but the loss or evaluator calls "
                          "model(x): pick a loss and an evaluator made for this model (they call its parts, e.g. "
                          f"model.{next(iter(self))}(...)), or a model of one module")


def parts_of(model: nn.Module) -> dict[str, nn.Module]:
    """``{name: module}``: the parts of a :class:`ModelParts`, or ``{"model": model}``."""
    return dict(model.items()) if isinstance(model, ModelParts) else {SINGLE: model}


def with_parts(model: nn.Module, parts: dict[str, nn.Module]) -> nn.Module:
    """The same kind of model with some parts replaced (compiled, or their EMA copies); shares the rest."""
    if not isinstance(model, ModelParts):
        return parts.get(SINGLE, model)
    return ModelParts({name: parts.get(name, part) for name, part in model.items()})


def map_parts(model: nn.Module, fn: Callable[[str, nn.Module], nn.Module]) -> nn.Module:
    """:func:`with_parts` with every part replaced by ``fn(name, part)``."""
    return with_parts(model, {name: fn(name, part) for name, part in parts_of(model).items()})
