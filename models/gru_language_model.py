"""A GRU language model whose output layer is a head of the loss (post 4, kexue.fm/archives/5617).

``x`` (B, T) word ids -> embedding (``embed_dim``) -> GRU (``dim`` units, ``num_layers``) -> features (B, T, dim),
the state at each position summarising the words up to it. The head (full softmax, NCE, negative sampling,
sampled softmax) turns features into ``p(next word | h)``. The embedding can start from word2vec's input
vectors: ``+trainer.parts.model.init_from=<word2vec run> +trainer.parts.model.source=model.embedding
+trainer.parts.model.module=embedding`` (same corpus settings, so the same vocabulary, and ``embed_dim`` equal to
word2vec's ``dim``).

``carry_state`` (``model.carry_state``, which follows ``data.carry_state`` in the shipped config): truncated
back-propagation through time. Row ``r`` of every batch continues row ``r`` of the batch before, and the batch
says which rows start a new stream (``forward(x, reset)``): those start from zeros, the others from the
GRU's final state of the previous call, detached. The state of training (``self.training``) and that of
evaluation are kept apart, so validating between two steps does not disturb training; the training state
is part of the ``state_dict`` (``carried._extra_state``), so a checkpoint resumes exactly. Under ``torchrun``
each process reads its own rows of every batch; the state kept is the whole batch's (gathered after each
training step), so that rank 0's checkpoint resumes every rank.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn as nn

from engine.errors import ConfigError, as_bool, as_int, as_number

STATE_KEY = "carried._extra_state"


class CarriedState(nn.Module):
    """The GRU's last state ``(num_layers, rows, dim)`` for training and for evaluation (None: none yet).

    Only the training state is checkpointed (an empty tensor when there is none): evaluation always starts
    with every row reset. A state is module state rather than a buffer because its shape is the batch's, set
    by the data, and an EMA copy of the model must not average it."""

    def __init__(self) -> None:
        super().__init__()
        self.states: dict[bool, torch.Tensor | None] = {True: None, False: None}  # keyed on training

    def get_extra_state(self) -> torch.Tensor:
        state = self.states[True]
        return torch.zeros(0) if state is None else state

    def set_extra_state(self, state: torch.Tensor) -> None:
        self.states = {True: state if state.numel() else None, False: None}


class GRULanguageModel(nn.Module):
    """Features ``h_t`` (B, T, dim); ``dropout`` on the embeddings and the features.

    ``carry_state=false``: every call starts from a zero state (``forward(x)``). ``carry_state=true``: the
    call reads ``reset`` (B,) bools and starts the rows where it is false from the state the previous call
    (in the same mode, training or evaluation) ended with."""

    def __init__(self, vocab_size: int, embed_dim: int = 256, dim: int = 256, num_layers: int = 1,
                 dropout: float = 0.0, carry_state: bool = False) -> None:
        super().__init__()
        self.dim = as_int("model.dim", dim, 1)
        p = as_number("model.dropout", dropout)
        embed_dim, num_layers = as_int("model.embed_dim", embed_dim, 1), as_int("model.num_layers", num_layers, 1)
        self.embedding = nn.Embedding(as_int("model.vocab_size", vocab_size, 1), embed_dim)
        nn.init.normal_(self.embedding.weight, std=embed_dim ** -0.5)
        self.gru = nn.GRU(embed_dim, self.dim, num_layers, batch_first=True, dropout=p if num_layers > 1 else 0.0)
        self.drop = nn.Dropout(p)
        self.carry_state = as_bool("model.carry_state", carry_state)
        if self.carry_state:
            self.carried = CarriedState()
        # a carried state is not a weight: a checkpoint of either kind loads into a model of either kind
        self._register_load_state_dict_pre_hook(self._carried_or_not)

    def _carried_or_not(self, state_dict, prefix, *args) -> None:
        key = prefix + STATE_KEY
        if self.carry_state and key not in state_dict:
            state_dict[key] = torch.zeros(0)
        elif not self.carry_state:
            state_dict.pop(key, None)

    def forward(self, x: torch.Tensor, reset: torch.Tensor | None = None) -> torch.Tensor:
        if (reset is not None) != self.carry_state:
            raise ConfigError("model.carry_state=true reads batches that say which rows start a new stream: set "
                              "data.carry_state=true" if self.carry_state else
                              "the batches carry the state across windows (data.carry_state=true) but "
                              "model.carry_state=false: leave model.carry_state to follow data.carry_state")
        h0 = self._initial_state(x, reset) if self.carry_state else None
        h, h_n = self.gru(self.drop(self.embedding(x)), h0)
        if self.carry_state:
            self._store(h_n.detach().float())
        return self.drop(h)

    # ---------------------------------------------------------------- carried state
    def _rows(self) -> tuple[int, int]:
        """``(rank, world size)`` of the processes a training batch is split over (``DataModule.shard``)."""
        if self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

    def _initial_state(self, x: torch.Tensor, reset: torch.Tensor) -> torch.Tensor | None:
        reset = reset.to(device=x.device, dtype=torch.bool).reshape(-1)
        if len(reset) != len(x):
            raise ConfigError(f"reset has {len(reset)} rows for a batch of {len(x)}")
        if bool(reset.all()):
            return None  # zeros
        rank, world = self._rows()
        stored = self.carried.states[self.training]
        rows = len(x) * world
        if stored is None or stored.shape[1] != rows:
            have = "no state" if stored is None else f"the state of {stored.shape[1]} rows"
            raise ConfigError(f"a batch of {rows} rows continues {have}: carried batches keep their number of "
                              "rows, and the first batch of a stream resets every row")
        h0 = stored.tensor_split(world, dim=1)[rank].to(x.device)
        return h0.masked_fill(reset.view(1, -1, 1), 0.0)

    def _store(self, h_n: torch.Tensor) -> None:
        rank, world = self._rows()
        if world > 1:  # every rank keeps the whole batch's state, so rank 0's checkpoint holds every row
            parts = [torch.empty_like(h_n) for _ in range(world)]
            dist.all_gather(parts, h_n.contiguous())
            h_n = torch.cat(parts, dim=1)
        self.carried.states[self.training] = h_n

    @property
    def word_vectors(self) -> torch.Tensor:
        return self.embedding.weight
