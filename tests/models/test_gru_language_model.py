"""The GRU language model reads left to right, and can start from word2vec's input vectors (a part of another run);
with its state carried from window to window, two windows read one after the other equal one window over both, and
a run stopped and resumed equals a run in one go."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import compose_cfg, losses, run_torchrun, sigterm_at, smoke_cfg

from engine.checkpoint import load_checkpoint
from engine.errors import ConfigError
from models.gru_language_model import GRULanguageModel
from train import make_trainer, train


def test_features_depend_only_on_the_past():
    torch.manual_seed(0)
    model = GRULanguageModel(vocab_size=20, embed_dim=8, dim=6).eval()
    x = torch.randint(0, 20, (2, 9))
    later = x.clone()
    later[:, 5:] = (later[:, 5:] + 1) % 20
    a, b = model(x), model(later)
    assert a.shape == (2, 9, 6)
    torch.testing.assert_close(a[:, :5], b[:, :5])
    assert not torch.allclose(a[:, 5:], b[:, 5:])


def test_language_model_starts_from_word2vec_vectors(tmp_path: Path):
    corpus = ["data.path=data/english/wiki.txt", "data.min_count=5", "data.val_fraction=0.05", "data.test_fraction=0.05"]
    w2v = smoke_cfg("word2vec", *corpus, "model.dim=16", "evaluator.simlex=null", "evaluator.analogies=null")
    train(w2v, tmp_path / "w2v")
    lm = smoke_cfg("lm_nce", *corpus, "model.embed_dim=16", f"+trainer.parts.model.init_from={tmp_path / 'w2v'}",
                   "+trainer.parts.model.source=model.embedding", "+trainer.parts.model.module=embedding")
    trainer = make_trainer(lm, tmp_path / "lm")
    trainer.initialise()
    source = torch.load(tmp_path / "w2v" / "best.pt", weights_only=True)["model"]["embedding.weight"]
    torch.testing.assert_close(trainer.model.embedding.weight.detach(), source)


def carried_model(**kwargs) -> GRULanguageModel:
    torch.manual_seed(0)
    return GRULanguageModel(vocab_size=20, embed_dim=8, dim=6, num_layers=2, carry_state=True, **kwargs)


def resets(rows: int, value: bool) -> torch.Tensor:
    return torch.full((rows,), value)


def test_carried_windows_equal_one_forward_over_both():
    model = carried_model()
    x = torch.randint(0, 20, (3, 11), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        whole = model(x, reset=resets(3, True))
        first = model(x[:, :4], reset=resets(3, True))
        model.eval()  # an evaluation between two training windows keeps a state of its own
        model(torch.randint(0, 20, (5, 7)), reset=resets(5, True))
        model.train()
        second = model(x[:, 4:], reset=resets(3, False))
    assert whole.shape == (3, 11, 6)
    torch.testing.assert_close(torch.cat([first, second], 1), whole)
    zero = GRULanguageModel(vocab_size=20, embed_dim=8, dim=6, num_layers=2)
    zero.load_state_dict(model.state_dict())  # the same weights without carrying: the whole window from zeros
    torch.testing.assert_close(zero(x), whole)


def test_reset_rows_start_from_zero():
    model = carried_model()
    a, b = torch.randint(0, 20, (3, 5)), torch.randint(0, 20, (3, 4))
    with torch.no_grad():
        fresh = model(b, reset=resets(3, True))
        model(a, reset=resets(3, True))
        mixed = model(b, reset=torch.tensor([True, False, True]))
        continued = model(torch.cat([a, b], 1), reset=resets(3, True))[:, 5:]
    torch.testing.assert_close(mixed[[0, 2]], fresh[[0, 2]])
    torch.testing.assert_close(mixed[1], continued[1])
    assert not torch.allclose(mixed[1], fresh[1])


def test_the_carried_state_is_checkpointed_and_not_averaged_by_ema():
    from engine.weights import Weights
    from losses.full_softmax import FullSoftmaxLoss

    model = carried_model()
    weights = Weights(model, FullSoftmaxLoss(vocab_size=20, dim=6), {"model": {"ema": 0.9}})
    a, b = torch.randint(0, 20, (3, 5)), torch.randint(0, 20, (3, 4))
    with torch.no_grad():
        model(a, reset=resets(3, True))
        weights.update_ema(["model"])  # the EMA copy averages weights (and buffers), not the state
        weights.update_ema(["model"])
        weights.eval_model().eval()(b, reset=resets(3, True))
        state = weights.state_dict()
        assert state["model"]["carried._extra_state"].shape == (2, 3, 6)
        expected = model(b, reset=resets(3, False))
        again = carried_model()
        Weights(again, FullSoftmaxLoss(vocab_size=20, dim=6), {"model": {"ema": 0.9}}).load_state_dict(state)
        torch.testing.assert_close(again(b, reset=resets(3, False)), expected)


def test_a_checkpoint_loads_whether_it_carried_a_state_or_not():
    zero = GRULanguageModel(vocab_size=20, embed_dim=8, dim=6)
    carried = GRULanguageModel(vocab_size=20, embed_dim=8, dim=6, carry_state=True)
    carried(torch.zeros(2, 3, dtype=torch.long), reset=resets(2, True))
    zero.load_state_dict(carried.state_dict())
    carried.load_state_dict(zero.state_dict())  # a zero-state run evaluated with the state carried
    assert "carried._extra_state" not in zero.state_dict()
    with pytest.raises(ConfigError, match="continues no state"):
        carried(torch.zeros(2, 3, dtype=torch.long), reset=resets(2, False))


def test_a_mismatch_of_model_and_data_is_one_line(tmp_path: Path):
    model = GRULanguageModel(vocab_size=20, embed_dim=8, dim=6)
    with pytest.raises(ConfigError, match="model.carry_state=false"):
        model(torch.zeros(2, 3, dtype=torch.long), reset=resets(2, True))
    with pytest.raises(ConfigError, match="set data.carry_state=true"):
        carried_model()(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ConfigError, match="model.carry_state must be true or false"):
        GRULanguageModel(vocab_size=20, carry_state="true")
    with pytest.raises(ConfigError, match="set data.carry_state=true"):
        train(smoke_cfg("lm_nce", *tiny_corpus(tmp_path), "model.carry_state=true"), tmp_path / "run")


def tiny_corpus(tmp_path: Path) -> list[str]:
    """A corpus of a few hundred words (an epoch of 5 batches of 8 streams x 12 words) as data overrides."""
    gen = torch.Generator().manual_seed(0)
    lines = [" ".join(f"w{int(i)}" for i in torch.randint(0, 40, (int(n),), generator=gen))
             for n in torch.randint(3, 12, (110,), generator=gen)]
    (tmp_path / "tiny.txt").write_text("\n".join(lines) + "\n")
    return [f"data.path={tmp_path / 'tiny.txt'}", "data.val_fraction=0.1", "data.test_fraction=0.1"]


def test_carried_state_resume_is_bit_exact(tmp_path: Path):
    # dropout makes the random streams matter; 12 steps cross an epoch (a reset) and stop mid-epoch
    cfg = smoke_cfg("lm_nce_carried", *tiny_corpus(tmp_path), "model.embed_dim=16", "model.dim=16", "loss.k=8",
                    "model.dropout=0.3", "trainer.max_epochs=3", "trainer.max_steps=12", "trainer.val_every_steps=6",
                    "evaluator.max_tokens=null")
    one_go = make_trainer(cfg, tmp_path / "one_go")
    assert one_go.steps_per_epoch < 8 < 12
    one_go.fit()
    assert make_trainer(cfg, tmp_path / "split", callbacks=[sigterm_at(8)]).fit()["status"] == "interrupted"
    stopped = load_checkpoint(tmp_path / "split" / "last.pt")
    assert stopped["step"] == 8 and stopped["model"]["carried._extra_state"].shape == (1, 8, 16)
    resumed = make_trainer(cfg, tmp_path / "split")
    resumed.resume(tmp_path / "split" / "last.pt")
    resumed.fit()
    assert losses(tmp_path / "one_go") == losses(tmp_path / "split")  # exact float equality, step by step
    assert losses(tmp_path / "one_go", "val/ppl") == losses(tmp_path / "split", "val/ppl")
    a, b = (load_checkpoint(tmp_path / run / "last.pt") for run in ("one_go", "split"))
    for part in ("model", "loss"):
        assert a[part].keys() == b[part].keys() and all(torch.equal(a[part][k], b[part][k]) for k in a[part])


@pytest.mark.slow
@pytest.mark.distributed
def test_two_processes_carry_their_own_rows(tmp_path: Path):
    """Under torchrun each process carries the state of its half of the rows, and keeps the whole batch's, so rank
    0's checkpoint holds every row: two processes give one process's losses and state (the exact softmax: no
    noise draws, which differ per process)."""
    overrides = ["experiment=lm_nce_carried", *tiny_corpus(tmp_path), "loss=full_softmax", "model.embed_dim=16",
                 "model.dim=16", "data.batch_size=8", "data.bptt=12", "trainer.max_epochs=3", "trainer.max_steps=12",
                 "trainer.log_every_steps=1", "trainer.val_every_steps=6", "trainer.progress=false"]
    run_torchrun(overrides, tmp_path / "ddp")
    (ddp_dir,) = (tmp_path / "ddp" / "lm_nce_carried").iterdir()
    train(compose_cfg(*overrides), tmp_path / "single")
    ddp, single = losses(ddp_dir), losses(tmp_path / "single")
    assert [s for s, _ in ddp] == [s for s, _ in single] == list(range(1, 13))
    assert [v for _, v in ddp] == pytest.approx([v for _, v in single], rel=1e-4)
    a, b = (load_checkpoint(run / "last.pt")["model"]["carried._extra_state"] for run in (ddp_dir, tmp_path / "single"))
    assert a.shape == (1, 8, 16)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
