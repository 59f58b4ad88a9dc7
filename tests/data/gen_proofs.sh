#!/bin/sh
# Makes the proof files of tests/data (seeds of fuzz/fuzz_proof.c, and
# test_proof.c's ReLU-split case) with the cerbere binary: $1 = build folder.
#   tiny_split.proof       verify --proof of tiny.nnet / tiny_split.vnnlib, kept
#                          in format version 1 (no input-space line: the checker
#                          still reads version 1, and the tests use these two)
#   tiny_split_relu.proof  the same tree under a ReLU split of node 3, neuron 1
#                          (its first child one leaf; leaves renumbered), with
#                          a combined multiplier line; under the split some
#                          leaves' regions are empty
#   tiny_space.proof       verify --proof of tiny.nnet / tiny_space.vnnlib, as
#                          written (version 2, "input-space raw")
set -e
B=${1:-build}
cd "$(dirname "$0")/../.."
"$B/cerbere" verify tests/data/tiny.nnet tests/data/tiny_split.vnnlib --threads 1 --proof tests/data/tiny_split.proof > /dev/null
grep -v '^input-space ' tests/data/tiny_split.proof | sed 's/^cerbere-proof 2$/cerbere-proof 1/' > tests/data/tiny_split.proof.v1
mv tests/data/tiny_split.proof.v1 tests/data/tiny_split.proof
{ sed -n 1,4p tests/data/tiny_split.proof
  printf 'box 0\nrelu 3 1\nleaf 0\nconj 0 1\nconj 1 0x1p-1 0x1p-2\n'
  sed -n '6,$p' tests/data/tiny_split.proof | awk '/^leaf /{print "leaf " $2+1; next} {print}'
} > tests/data/tiny_split_relu.proof
"$B/cerbere" verify tests/data/tiny.nnet tests/data/tiny_space.vnnlib --threads 1 --proof tests/data/tiny_space.proof > /dev/null
