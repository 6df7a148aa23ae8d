"""Text as integer arrays: the int-coded form every fast pass of word discovery works on.

Every word character (``chinese_text.WORD_CHARS``: CJK U+4E00-U+9FA5, ASCII and full-width letters and
digits) has a fixed id in ``1 .. NUM_IDS - 1``, the same on every machine and for every corpus, so that
counts made in different processes add up without a shared vocabulary. Ids follow code-point order, so
comparing two id sequences compares the strings. Any other character is id 0: a chunk boundary.
An n-gram of up to four characters packs into one int64: ``((a * NUM_IDS + b) * NUM_IDS + c) ...``
(``NUM_IDS ** 4 < 2 ** 63``; the leading id is never 0, so n-grams of different lengths never share a code).
"""

from __future__ import annotations

import numpy as np

RANGES = [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A), (0x4E00, 0x9FA5), (0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A)]
CODEPOINTS = np.concatenate([[0]] + [np.arange(a, b + 1) for a, b in RANGES]).astype(np.uint32)  # id -> code point
NUM_IDS = len(CODEPOINTS)  # 21,027 with the empty id 0
ID_OF = np.zeros(0x10000, dtype=np.int32)  # code point (BMP) -> id; 0 for everything else
ID_OF[CODEPOINTS[1:]] = np.arange(1, NUM_IDS, dtype=np.int32)
IS_SPACE = np.array([chr(c).isspace() for c in range(0x3001)] + [False] * (0x10000 - 0x3001))  # what `\s` matches
MAX_PACKED = 4  # the longest n-gram that packs into one int64


def code_points(text: str) -> np.ndarray:
    """The code points of ``text`` as uint32, one per character (Python's own indexing)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def to_ids(points: np.ndarray) -> np.ndarray:
    """Word-character ids of code points: 0 for anything that is not a word character."""
    return ID_OF[np.minimum(points, 0xFFFF)]


def encode(text: str) -> np.ndarray:
    """``to_ids(code_points(text))``."""
    return to_ids(code_points(text))


def decode_rows(ids: np.ndarray) -> list[str]:
    """The strings of the rows of an ``(n, L)`` id matrix (no zeros), in one decode."""
    n, length = ids.shape
    text = CODEPOINTS[ids].astype("<u4").tobytes().decode("utf-32-le")
    return [text[i:i + length] for i in range(0, n * length, length)]


def pack(ids: np.ndarray) -> np.ndarray:
    """The int64 code of each row of an ``(n, k)`` id matrix, ``k <= MAX_PACKED``."""
    code = np.zeros(len(ids), dtype=np.int64)
    for k in range(ids.shape[1]):
        code = code * NUM_IDS + ids[:, k]
    return code


def unpack(codes: np.ndarray, k: int) -> np.ndarray:
    """The ``(n, k)`` id matrix of codes of k-grams."""
    out = np.empty((len(codes), k), dtype=np.int64)
    codes = np.asarray(codes, dtype=np.int64)
    for j in range(k - 1, -1, -1):
        out[:, j] = codes % NUM_IDS
        codes = codes // NUM_IDS
    return out
