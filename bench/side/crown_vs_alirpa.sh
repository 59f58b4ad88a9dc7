#!/bin/sh
# IBP and CROWN side by side with auto_LiRPA (issue 24), 1 thread each, on L-inf
# balls around VNNLIB box centres: per net, cerbere, auto_LiRPA, auto_LiRPA,
# cerbere (interleaved); each sample's CPU time is the best of its two runs.
# Run from a scratch directory (it writes its JSON there), with CB=path to cerbere
# and the row files made by vnnlib_centres.py (CSV label,x...; box centres):
#   /usr/bin/python3 bench/side/vnnlib_centres.py m.csv ../shared/benchmarks/mnistfc/vnnlib/prop_{0..4}_0.03.vnnlib
#   (eran.csv: the first 5 of eran2021/vnnlib/mnist/*.vnnlib in ls order; cifar.csv: the
#   first 5 oval21 cifar_base_kw-*.vnnlib; res.csv: the first 3 of cifar10_resnet
#   resnet2b_pgd_filtered/*.vnnlib), then:
#   sh crown_vs_alirpa.sh; python3 crown_vs_alirpa_summary.py  (Markdown table)
# CB_BASE=path to another cerbere (e.g. main's) also runs it, interleaved the same way
# (base, cerbere, auto_LiRPA, auto_LiRPA, cerbere, base), into *.base1/2.json: the summary
# then shows its column and the speed-up of CB over it from the same run.
# Needs auto_LiRPA's Debian dependencies (../shared/peers/README.md).
SH=${SHARED:-/work/shared}
P=${ALIRPA:-$SH/peers/alirpa_bounds.py}   # ALIRPA: another copy (e.g. with an op added to onnx_to_torch.py)
CBIN=${CB:-./cb}
# METHODS: cerbere's --method names to run (default "ibp crown"; alpha-crown maps to auto_LiRPA's alpha-CROWN)
METHODS=${METHODS:-ibp crown}
AM=$(echo $METHODS | sed 's/alpha-crown/alpha-CROWN/;s/crown-ibp/CROWN-IBP/;s/ibp/IBP/;s/crown/CROWN/;s/ /,/g')
cbrun() { bin=$1; tag=$2
  for m in $METHODS; do
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $bin bounds $net --data $csv --norm inf --eps $eps --method $m --json ${name}_$m.$tag.json --quiet >/dev/null 2>&1
  done
}
run() { name=$1; net=$2; csv=$3; eps=$4
  [ -n "${CB_BASE:-}" ] && cbrun "$CB_BASE" base1
  for m in $METHODS; do
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $CBIN bounds $net --data $csv --norm inf --eps $eps --method $m --json ${name}_$m.cb1.json --quiet >/dev/null 2>&1
  done
  OMP_NUM_THREADS=1 /usr/bin/python3 $P $net ball $csv "inf:$eps" $AM > ${name}.al1.jsonl 2>/dev/null
  OMP_NUM_THREADS=1 /usr/bin/python3 $P $net ball $csv "inf:$eps" $AM > ${name}.al2.jsonl 2>/dev/null
  for m in $METHODS; do
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $CBIN bounds $net --data $csv --norm inf --eps $eps --method $m --json ${name}_$m.cb2.json --quiet >/dev/null 2>&1
  done
  [ -n "${CB_BASE:-}" ] && cbrun "$CB_BASE" base2
  return 0
}
# DGEMM=path to build/bench/dgemm_rate: the single-thread dgemm rate (CPU time) at the start and
# the end, into dgemm.txt; the summary then gives each CROWN cell's GFLOP/s and its % of that rate.
rm -f dgemm.txt
[ -n "${DGEMM:-}" ] && $DGEMM >> dgemm.txt
echo "start $(date -u) load $(cut -d' ' -f1-3 /proc/loadavg)"
# NETS=pooled: only the MaxPool conv net of bench/nets (gen_pooled_cnn.py; its rows pooled_cnn.csv)
if [ "${NETS:-}" = pooled ]; then
  B=$(dirname "$0")/../nets
  run pooled_cnn $B/pooled_cnn.onnx $B/pooled_cnn.csv 0.01
elif [ "${NETS:-}" = new ]; then
  # NETS=new: the nets first measured in session 11 (rows: the first 3 VNNLIB files of each in
  # instances.csv order, by vnnlib_centres.py; cifar10_small's labels are the files' "orig" class),
  # then alpha-CROWN on cifar_base_kw and resnet_2b (METHODS="crown alpha-crown"); ONLY=name runs one
  for x in "cifar_wide_kw oval21/onnx/cifar_wide_kw.onnx wide.csv 0.035" "cifar_deep_kw oval21/onnx/cifar_deep_kw.onnx deep.csv 0.035" \
           "cifar10_small marabou-cifar10/onnx/cifar10_small.onnx small.csv 0.012" "cifar_base_kw oval21/onnx/cifar_base_kw.onnx cifar.csv 0.0174" \
           "resnet_2b cifar10_resnet/onnx/resnet_2b.onnx res.csv 0.0322" "resnet_4b cifar10_resnet/onnx/resnet_4b.onnx res4.csv 0.0161"; do
    set -- $x
    [ -n "${ONLY:-}" ] && [ "$ONLY" != "$1" ] && continue
    echo "$1 $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
    run $1 $SH/benchmarks/$2 $3 $4
  done
else
run mnist256x6 $SH/benchmarks/mnistfc/onnx/mnist-net_256x6.onnx m.csv 0.015
run eran9x200 $SH/benchmarks/eran2021/onnx/mnist_relu_9_200.onnx eran.csv 0.015
run cifar_base_kw $SH/benchmarks/oval21/onnx/cifar_base_kw.onnx cifar.csv 0.0174
run resnet_2b $SH/benchmarks/cifar10_resnet/onnx/resnet_2b.onnx res.csv 0.0322
fi
echo "end $(date -u) load $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "${DGEMM:-}" ] && $DGEMM >> dgemm.txt
exit 0
