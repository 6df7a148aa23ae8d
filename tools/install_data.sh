#!/usr/bin/env bash
# Install the offline datasets the experiments and tests need (DATA.md).
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
