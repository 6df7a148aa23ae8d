# `make run`: set up everything, then train the default experiment. `make test`: set up, then the fast tier
# (every test not marked slow, minutes); `make test-all`: everything (subprocesses, servers, clusters, the browser).
PY := .venv/bin/python

.PHONY: run test test-all test-sbml test-distributed bench-distributed data venv browser reproduce lint bench bench-gillespie bench-gillespie-dask bench-lexicon bench-ode bench-mixup bench-margin bench-heads bench-word2vec clean

venv: .venv/.installed
.venv/.installed: requirements.txt requirements-dev.txt pyproject.toml
	python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	# the project itself, editable: tools/ and benchmarks/ run as files and as modules from anywhere
	$(PY) -m pip install -q --no-deps -e .
	touch $@

data: data/FashionMNIST/raw/t10k-labels-idx1-ubyte data/chinese/sanguo.txt data/bible/kjv_web.tsv data/english/wiki.txt data/gcide/gcide.txt data/chinese/peoples_daily_words.txt
data/FashionMNIST/raw/t10k-labels-idx1-ubyte data/chinese/sanguo.txt data/bible/kjv_web.tsv data/english/wiki.txt data/gcide/gcide.txt data/chinese/peoples_daily_words.txt: | venv
	PYTHON=$(PY) bash tools/install_data.sh data

run: venv data
	$(PY) train.py experiment=fmnist_cnn

test: venv data
	$(PY) -m pytest -m "not slow" --durations=15

test-all: venv data browser
	$(PY) -m pytest -m "not sbml" --durations=15

# torchrun / DDP, submitit jobs and process groups of 2 CPU processes only (also part of test-all)
test-distributed: venv data
	$(PY) -m pytest -m distributed --durations=15

# the SBML Test Suite's 39 stochastic cases at its 10,000 trajectories (about 4 minutes on 2 cores)
test-sbml: venv
	$(PY) -m pytest -m sbml tests/ssa/test_sbml_suite.py

# headless Chromium and its matching ChromeDriver from Debian's packages (Selenium from requirements-dev.txt drives
# them): the test that loads TensorBoard's pages in a real browser
browser: venv /usr/bin/chromedriver
/usr/bin/chromedriver:
	s=$$([ "$$(id -u)" = 0 ] || echo sudo); export DEBIAN_FRONTEND=noninteractive; \
	$$s apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1 || \
	{ $$s apt-get update -qq >/dev/null && $$s apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; }

lint: venv
	.venv/bin/ruff check .

# one post's experiments, tables and figures: make reproduce POST=mixup [SIZE=quick|full]
POST ?= gillespie
SIZE ?= quick
reproduce: venv data
	$(PY) tools/reproduce.py post=$(POST) size=$(SIZE)

bench: venv data
	$(PY) -m benchmarks.trainer_overhead

# data-parallel samples/s: 2 processes against 1, DDP against the former flat all-reduce (no peer to install)
bench-distributed: venv data
	$(PY) -m benchmarks.distributed_throughput

# our Runge-Kutta cells against torchdiffeq (a runtime dependency: nothing to install)
bench-ode: venv
	$(PY) -m benchmarks.ode_cells

# the peer (gillespy2, GPL-3, ~445 MB) is a benchmark-only dependency: requirements-bench.txt
bench-gillespie: venv
	$(PY) -m pip install -q -r requirements-bench.txt
	$(PY) -m benchmarks.gillespie

# our exact method on 1 and 2 Dask workers against one process (no peer to install)
bench-gillespie-dask: venv
	$(PY) -m benchmarks.gillespie_dask

# peers nlp-zero (the posts' own code) and jieba: benchmark-only dependencies, requirements-bench.txt
bench-lexicon: venv data
	$(PY) -m pip install -q -r requirements-bench.txt
	$(PY) -m benchmarks.lexicon

# peer timm (its Mixup / CutMix): a benchmark-only dependency, requirements-bench.txt
bench-mixup: venv data
	$(PY) -m pip install -q -r requirements-bench.txt
	$(PY) -m benchmarks.mixup

# peer pytorch-metric-learning (its CosFaceLoss): a benchmark-only dependency, requirements-bench.txt
bench-margin: venv
	$(PY) -m pip install -q -r requirements-bench.txt
	$(PY) -m benchmarks.margin_softmax

# NCE and sampled softmax (k = 64) against the full softmax, output layer only (no peer: nothing to install)
bench-heads: venv
	$(PY) -m benchmarks.softmax_heads

# peer gensim (its Word2Vec): a benchmark-only dependency, requirements-bench.txt
bench-word2vec: venv data
	$(PY) -m pip install -q -r requirements-bench.txt
	$(PY) -m benchmarks.word2vec

clean:
	rm -rf runs outputs multirun .pytest_cache
