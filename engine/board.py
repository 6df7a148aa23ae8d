"""How a run looks in TensorBoard: which scalars open first, and what the HParams table shows.

TensorBoard's Time Series tab puts each tag into the group named by its part before the first ``/``,
orders the groups by name and opens only the first two. Headline scalars keep their names
(``train/loss``, ``val/acc``, ``test/acc``: the groups ``test``, ``train``, ``val``); every other scalar
(per-class ``val/acc_class/3_Dress``, ``lr/*``, ``throughput/*``, ``time/*``, the final ``val/best_acc``)
and the evaluators' pictures are written under :data:`DETAIL` (``~val/acc_class/3_Dress``), which sorts
after every letter: those groups come last and closed. ``log.jsonl`` and ``metrics.json`` keep the
plain names.

The HParams table lists the hparams of the run's *experiment* summary. It is written with the keys a
sweep varies (a single run: the keys set on its command line), or every config value with
``board_hparams=all``; every session still records every value. Its metrics are the headline
metrics of ``metrics.json`` read from the run's own scalars, so no extra single-point ``hparam/*``
charts appear among the curves.
"""

from __future__ import annotations

from typing import Any

from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2
from torch.utils.tensorboard.summary import hparams as torch_hparams

DETAIL = "~"
HEADLINE_SPLITS = ("train", "val", "test")


def board_tag(key: str, final: bool = False, value: Any = 0.0) -> str:
    """The TensorBoard tag of a logged key (module docstring). ``final``: a value of the final evaluation,
    where only the ``test`` split's headline stays on the first screen (``val/best_acc`` is a detail);
    an integer ``value`` (a count such as ``val/n``) is a detail too, as in :func:`engine.metrics.is_headline`."""
    split, _, name = key.partition("/")
    headline = split in (("test",) if final else HEADLINE_SPLITS) and name and "/" not in name
    return key if headline and isinstance(value, float) else DETAIL + key


def hparams_summaries(values: dict[str, Any], shown: dict[str, bool], metrics: list[str]) -> list[Any]:
    """The three summaries TensorBoard's HParams plugin reads: the experiment (the ``shown`` hparams, each marked
    as differing or not, and ``metrics`` by their board tags), the session's start (every one of ``values``)
    and its end. torch's ``hparams`` writes the session; its experiment, which lists every key, is rewritten.

    TensorBoard orders the table's hparams by (differs first, name) and ticks the first five: the keys a sweep
    varies are marked as differing so that they lead, constant ones (``board_hparams=all``) are not.
    Booleans are written as ``true``/``false`` (torch would write 1.0/0.0)."""
    values = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in values.items() if v is not None}
    experiment, start, end = torch_hparams(values, {})
    value = experiment.value[0]
    data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
    infos = {h.name: h for h in data.experiment.hparam_infos}
    kept = [infos[k] for k in shown if k in infos]
    for info in kept:
        info.differs = shown[info.name]
    data.experiment.ClearField("hparam_infos")
    data.experiment.hparam_infos.extend(kept)
    data.experiment.metric_infos.extend(api_pb2.MetricInfo(name=api_pb2.MetricName(tag=board_tag(m, final=True)),
                                                           display_name=m) for m in metrics)
    value.metadata.plugin_data.content = data.SerializeToString()
    return [experiment, start, end]
