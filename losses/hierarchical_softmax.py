"""Hierarchical softmax over a Huffman tree (Morin and Bengio 2005; word2vec's ``hs=1``, Mikolov et al. 2013).

The words are the leaves of a binary tree built by Huffman's algorithm from their training counts, so a
frequent word sits near the root. Inner node ``n`` has an output vector ``v_n`` (and, optionally, a bias); the
path from the root to word ``w`` passes nodes ``n_1 .. n_L`` and turns left or right at each (its code
``d_j`` in {0, 1}). Then

    p(w | h) = prod_j sigma((1 - 2 d_j) <h, v_{n_j}>),    loss = -sum_j log sigma((1 - 2 d_j) <h, v_{n_j}>)

normalised by construction (the two branches of a node sum to one), at ``O(log V)`` per target instead of
``O(V)``. word2vec (and gensim) train with the same sign: its gradient is ``(1 - d_j - sigma(<h, v_{n_j}>))``.
With ``model.update=per_pair`` the head trains as word2vec does, pair by pair in ``losses/per_pair.py``'s kernel.
"""

from __future__ import annotations

import heapq

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.contracts import Batch, DataModule
from engine.errors import ConfigError
from losses.output_head import VectorHeadLoss, word_counts
from losses.per_pair import PerPairHead, per_pair_step


def huffman_tree(counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(points (V, L), codes (V, L), lengths (V,))`` of the Huffman tree over ``counts``.

    Word ``w``'s path from the root visits inner nodes ``points[w, :lengths[w]]`` (ids ``0 .. V - 2``, the root
    is ``V - 2``) and takes branch ``codes[w, j]`` at each; the rest of the row is padding (node 0, code 0).
    Ties are broken by node id, so the tree is a function of the counts alone.
    """
    counts = [float(c) for c in torch.as_tensor(counts, dtype=torch.float64).tolist()]
    v = len(counts)
    if v < 2:
        raise ConfigError(f"hierarchical softmax needs at least 2 words, got a vocabulary of {v}")
    heap = [(c, i) for i, c in enumerate(counts)]  # leaves 0 .. V-1, inner nodes V .. 2V-2
    heapq.heapify(heap)
    parent, branch = [0] * (2 * v - 1), [0] * (2 * v - 1)
    for node in range(v, 2 * v - 1):
        (c1, a), (c2, b) = heapq.heappop(heap), heapq.heappop(heap)
        parent[a], branch[a] = node, 0
        parent[b], branch[b] = node, 1
        heapq.heappush(heap, (c1 + c2, node))
    root = 2 * v - 2
    paths: list[list[int]] = []
    bits: list[list[int]] = []
    for w in range(v):
        nodes, code, n = [], [], w
        while n != root:
            nodes.append(parent[n] - v)
            code.append(branch[n])
            n = parent[n]
        paths.append(nodes[::-1])
        bits.append(code[::-1])
    lengths = torch.tensor([len(p) for p in paths])
    width = int(lengths.max())
    points = torch.zeros(v, width, dtype=torch.long)
    codes = torch.zeros(v, width, dtype=torch.long)
    for w in range(v):
        points[w, : lengths[w]] = torch.tensor(paths[w])
        codes[w, : lengths[w]] = torch.tensor(bits[w])
    return points, codes, lengths


class HierarchicalSoftmaxLoss(PerPairHead, VectorHeadLoss):
    """``vocab_size - 1`` inner-node vectors (zeros at the start, as word2vec's ``syn1``) over a Huffman tree
    built in :meth:`setup` from the data's training counts (``noise_counts()``; words with no count sit
    deepest). Until then the tree is that of equal counts (a balanced one), so the head is usable alone."""

    def __init__(self, vocab_size: int, dim: int, bias: bool = False, reduction: str = "mean", sparse: bool = False,
                 init: str = "zeros") -> None:
        super().__init__(vocab_size, dim, bias, reduction, sparse, init, rows=max(vocab_size - 1, 1))
        for name in ("points", "codes", "lengths", "signs", "path_mask", "parent", "parent_sign", "depth"):
            # rebuilt from the data's counts: not saved
            self.register_buffer(name, torch.zeros(0), persistent=False)
        self.set_tree(torch.ones(self.vocab_size))

    def setup(self, data: DataModule) -> None:
        super().setup(data)
        self.set_tree(word_counts(data, self))

    def set_tree(self, counts: torch.Tensor) -> None:
        """The Huffman tree of ``counts`` (one per word) as buffers: paths, codes and their mask."""
        if len(counts) != self.vocab_size:
            raise ConfigError(f"{len(counts)} word counts for a vocabulary of {self.vocab_size}: "
                              "the data and loss.vocab_size disagree")
        points, codes, lengths = huffman_tree(counts)
        device = self.weight.device
        self.points, self.codes, self.lengths = points.to(device), codes.to(device), lengths.to(device)
        self.signs = (1.0 - 2.0 * codes.float()).to(device)  # +1: branch 0, -1: branch 1
        self.path_mask = (torch.arange(points.shape[1]) < lengths[:, None]).float().to(device)
        # every node's parent and the branch taken to it: words 0 .. V-1, then inner nodes V .. 2V-2 (the root: -1)
        v = self.vocab_size
        parent = torch.full((2 * v - 1,), -1, dtype=torch.long)
        parent_sign = torch.ones(2 * v - 1)
        depth = torch.zeros(2 * v - 1, dtype=torch.long)
        words = torch.arange(v)
        last = lengths - 1
        parent[:v], parent_sign[:v], depth[:v] = points[words, last], 1.0 - 2.0 * codes[words, last], lengths
        w, j = (torch.arange(points.shape[1]) < last[:, None]).nonzero(as_tuple=True)  # a node and the next on a path
        child = points[w, j + 1] + v
        parent[child], parent_sign[child], depth[child] = points[w, j], 1.0 - 2.0 * codes[w, j].float(), j + 1
        self.parent, self.parent_sign, self.depth = parent.to(device), parent_sign.to(device), depth.to(device)

    def path_log_probs(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``log p(y_it | h_i) = sum_j log sigma(sign_j (<h_i, v_{n_j}> + b_{n_j}))``, ``(N, T)`` (0 where ``y = -1``)."""
        words = y.clamp_min(0)
        nodes = self.points[words]  # (N, T, L)
        v, b = self.gather(nodes)
        s = (v * h[:, None, None, :]).sum(-1) + b
        terms = F.logsigmoid(self.signs[words] * s) * self.path_mask[words]
        return terms.sum(-1) * (y >= 0)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """``log p(w | h)`` of every word (already normalised: its ``logsumexp`` is 0), down the tree one depth at a
        time: ``log p(node) = log p(parent) + log sigma(+-s(parent))``, each node once (``O(V)`` per row)."""
        v = self.vocab_size
        s = F.linear(h, self.weight, self.bias)  # every inner node's score
        log_p = h.new_zeros(len(h), 2 * v - 1)  # words, then inner nodes; the root's log p is 0
        inner = torch.arange(v, 2 * v - 1, device=h.device)
        for d in range(1, int(self.depth.max()) + 1):
            nodes = inner[self.depth[v:] == d]
            up = self.parent[nodes]
            log_p[:, nodes] = log_p[:, up + v] + F.logsigmoid(self.parent_sign[nodes] * s[:, up])
        up = self.parent[:v]
        return log_p[:, up + v] + F.logsigmoid(self.parent_sign[:v] * s[:, up])

    def target_nll(self, h: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = y.unsqueeze(1) if y.dim() == 1 else y
        return -self.path_log_probs(h, y), y >= 0

    def loss(self, h: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        y = y.unsqueeze(1) if y.dim() == 1 else y
        mask = y >= 0
        total = -self.path_log_probs(h, y).sum()
        return {"loss": self.reduce(total, mask), "nll": (total / mask.sum().clamp_min(1)).detach()}

    def per_pair_update(self, model: nn.Module, batch: Batch, lr: float) -> dict[str, torch.Tensor]:
        tree = tuple(t.numpy() for t in (self.points, self.codes, self.lengths))
        return per_pair_step(model, self.weight, batch, lr, tree=tree)
