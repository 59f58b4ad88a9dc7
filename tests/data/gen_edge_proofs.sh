#!/bin/sh
# Makes tests/data/edge/eN_uns.proof (tests/run_verify_edge.sh): verify --proof
# of eN_uns.nnet (gen_edge.py: 1e-6 above the maximum) with eN.vnnlib, format
# version 3 (the ReLU route's tighten and beta records).  $1 = build folder.
set -e
B=${1:-build}
cd "$(dirname "$0")/../.."
for s in 5031 5038 5042; do
  "$B/cerbere" verify tests/data/edge/e${s}_uns.nnet tests/data/edge/e$s.vnnlib --threads 1 --timeout 60 \
    --proof tests/data/edge/e${s}_uns.proof > /dev/null
done
