"""Readers for image-classification data: each returns uint8 tensors ``(N, C, H, W)`` and labels.

They use torchvision's own dataset classes, so a user with the internet (``download=true``) or
with the standard files on disk gets exactly torchvision's data. Fashion-MNIST is installed
offline from Debian's ``dataset-fashion-mnist`` by ``make data`` (``tools/install_data.sh``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.errors import DataMissingError

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ImageSplits:
    train_x: torch.Tensor  # uint8 (N, C, H, W)
    train_y: torch.Tensor  # int64 (N,)
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list[str]


def resolve_root(root: str | Path) -> Path:
    """Relative data roots are relative to the repository, not to the caller's working directory."""
    root = Path(root).expanduser()
    return root if root.is_absolute() else REPO_ROOT / root


def _as_nchw(data: torch.Tensor | np.ndarray) -> torch.Tensor:
    x = torch.as_tensor(data)
    if x.ndim == 3:  # (N, H, W) grey
        return x.unsqueeze(1).contiguous()
    return x.permute(0, 3, 1, 2).contiguous()  # (N, H, W, C)


_CACHE: dict[tuple, ImageSplits] = {}


def _read(cls, root: Path, name: str, install_hint: str, **kwargs) -> ImageSplits:
    # one parse per process: the jobs of a local sweep and the tests share it (nothing mutates it)
    key = (cls.__name__, str(root), tuple(sorted(kwargs.items())))
    if key not in _CACHE:
        _CACHE[key] = _parse(cls, root, name, install_hint, **kwargs)
    return _CACHE[key]


def _parse(cls, root: Path, name: str, install_hint: str, **kwargs) -> ImageSplits:
    try:
        train = cls(str(root), train=True, **kwargs)
        test = cls(str(root), train=False, **kwargs)
    except RuntimeError as e:
        if "not found" in str(e).lower():
            raise DataMissingError(f"{name} is not installed under {root}: {install_hint}") from None
        raise DataMissingError(f"{name} under {root} could not be read ({e}): {install_hint}") from None
    except (AssertionError, ValueError, OSError) as e:
        raise DataMissingError(
            f"{name} files under {root} are malformed ({type(e).__name__}: {e}); "
            f"delete them and reinstall: {install_hint}"
        ) from None
    return ImageSplits(
        _as_nchw(train.data), torch.as_tensor(train.targets, dtype=torch.int64),
        _as_nchw(test.data), torch.as_tensor(test.targets, dtype=torch.int64), list(train.classes),
    )


def fashion_mnist(root: str | Path = "data") -> ImageSplits:
    """Fashion-MNIST (Xiao et al. 2017): 60k/10k 28x28 grey images, 10 classes."""
    from torchvision.datasets import FashionMNIST

    return _read(FashionMNIST, resolve_root(root), "Fashion-MNIST",
                 "run `make data` (installs Debian's dataset-fashion-mnist, see README)")


def mnist(root: str | Path = "data", download: bool = False) -> ImageSplits:
    """MNIST through torchvision (needs the internet for ``download=true``)."""
    from torchvision.datasets import MNIST

    return _read(MNIST, resolve_root(root), "MNIST",
                 "put the IDX files in <root>/MNIST/raw or set data.reader.download=true", download=download)


def cifar10(root: str | Path = "data", download: bool = False) -> ImageSplits:
    """CIFAR-10 through torchvision (needs the internet for ``download=true``)."""
    from torchvision.datasets import CIFAR10

    return _read(CIFAR10, resolve_root(root), "CIFAR-10",
                 "set data.reader.download=true on a machine with internet access", download=download)


CELEBA_CROP = (55, 35, 108)  # top, left, side: the VI-GAN code's centre crop of the 218 x 178 aligned faces
CELEBA_FILES = "img_align_celeba/ and the list files torchvision checks (list_eval_partition.txt, list_attr_celeba.txt, ...)"


def celeba_crop(image, size: int = 64) -> np.ndarray:
    """The paper's crop of one aligned face (a PIL image, 178 wide x 218 high): rows 55..162, columns
    35..142, then a bicubic resize to ``size`` x ``size``; ``(size, size, 3)`` uint8."""
    from PIL import Image

    top, left, side = CELEBA_CROP
    face = image.convert("RGB").crop((left, top, left + side, top + side))
    return np.asarray(face.resize((size, size), Image.BICUBIC), dtype=np.uint8)


def celeba(root: str | Path = "data", image_size: int = 64) -> ImageSplits:
    """CelebA aligned faces (Liu et al. 2015) as the VI-GAN paper reads them (:func:`celeba_crop`), through
    torchvision's ``CelebA`` reader: its train and valid partitions as ``train``, its test partition as ``test``,
    one class ``face``. The first read writes ``<root>/celeba/celeba_<size>.pt`` (uint8), later reads load it.
    There is no offline copy here: a clear line names what is missing."""
    root = resolve_root(root)
    cache = root / "celeba" / f"celeba_{image_size}.pt"
    if cache.is_file():
        try:
            saved = torch.load(cache, map_location="cpu", weights_only=True)
            train_x, test_x = saved["train_x"], saved["test_x"]
        except Exception as e:  # noqa: BLE001 - any unreadable cache is one line
            raise DataMissingError(f"{cache} is unreadable ({type(e).__name__}); delete it to rebuild it from the "
                                   "CelebA files") from None
        return ImageSplits(train_x, torch.zeros(len(train_x), dtype=torch.int64), test_x,
                           torch.zeros(len(test_x), dtype=torch.int64), ["face"])
    from torchvision.datasets import CelebA

    parts = {}
    for split in ("train", "valid", "test"):
        try:
            ds = CelebA(str(root), split=split, target_type=[], download=False)
        except RuntimeError:
            raise DataMissingError(f"CelebA is not under {root / 'celeba'}: it needs {CELEBA_FILES}, from the CelebA "
                                   "site (mmlab.ie.cuhk.edu.hk/projects/CelebA.html); this machine has no copy") from None
        parts[split] = torch.from_numpy(np.stack([celeba_crop(ds[i][0], image_size) for i in range(len(ds))]))
    train_x = _as_nchw(torch.cat([parts["train"], parts["valid"]]))
    test_x = _as_nchw(parts["test"])
    torch.save({"train_x": train_x, "test_x": test_x}, cache)
    return celeba(root, image_size)
