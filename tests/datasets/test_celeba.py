"""The CelebA reader: the paper's crop, a cache, and one line when the files are missing or malformed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from datasets.readers import celeba, celeba_crop
from engine.errors import DataMissingError


def test_crop_takes_rows_55_and_columns_35_then_resizes():
    face = np.zeros((218, 178, 3), dtype=np.uint8)
    face[55:163, 35:143] = 200  # exactly the 108 x 108 window
    out = celeba_crop(Image.fromarray(face), size=64)
    assert out.shape == (64, 64, 3) and out.min() == 200 and out.max() == 200
    face[54, 35:143] = 255  # one row above the window: not in the crop
    assert celeba_crop(Image.fromarray(face), size=64).max() == 200


def test_missing_files_are_one_line(tmp_path: Path):
    with pytest.raises(DataMissingError, match="CelebA is not under .*img_align_celeba/") as err:
        celeba(tmp_path)
    assert "\n" not in str(err.value)


def test_cache_is_read_and_a_malformed_one_is_one_line(tmp_path: Path):
    (tmp_path / "celeba").mkdir()
    train_x = torch.randint(0, 255, (6, 3, 64, 64), dtype=torch.uint8)
    torch.save({"train_x": train_x, "test_x": train_x[:2]}, tmp_path / "celeba" / "celeba_64.pt")
    s = celeba(tmp_path)
    assert torch.equal(s.train_x, train_x) and s.classes == ["face"] and s.test_y.tolist() == [0, 0]
    (tmp_path / "celeba" / "celeba_64.pt").write_bytes(b"not a tensor file")
    with pytest.raises(DataMissingError, match="unreadable .* delete it"):
        celeba(tmp_path)
