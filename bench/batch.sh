#!/bin/sh
# bounds --batch N (issue 24): CPU time per sample of CROWN with N rows per
# stacked pass, N in $BATCHES (default 1 2 4 8), interleaved in ROUNDS rounds
# (default 2), 1 thread; per net and N the median over rounds of the chunk CPU
# time per sample (every row of a chunk reports its share), the GFLOP per
# sample, and the rows stacked.  Run from a scratch directory holding the row
# files of bench/side/crown_vs_alirpa.sh (m.csv, eran.csv, cifar.csv, res.csv),
# with CB=path to cerbere:  sh bench/batch.sh
SH=${SHARED:-/work/shared}
CBIN=${CB:-./cb}
BATCHES=${BATCHES:-1 2 4 8}
ROUNDS=${ROUNDS:-2}
echo "start $(date -u) load $(cut -d' ' -f1-3 /proc/loadavg)"
one() { name=$1; net=$2; csv=$3; eps=$4; r=$5
  for b in $BATCHES; do
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $CBIN bounds $net --data $csv --norm inf --eps $eps --method crown \
      --batch $b --json ${name}_b$b.r$r.json --quiet >/dev/null 2>&1
  done
}
r=1
while [ $r -le $ROUNDS ]; do
  one mnist256x6 $SH/benchmarks/mnistfc/onnx/mnist-net_256x6.onnx m.csv 0.015 $r
  one eran9x200 $SH/benchmarks/eran2021/onnx/mnist_relu_9_200.onnx eran.csv 0.015 $r
  one cifar_base_kw $SH/benchmarks/oval21/onnx/cifar_base_kw.onnx cifar.csv 0.0174 $r
  one resnet_2b $SH/benchmarks/cifar10_resnet/onnx/resnet_2b.onnx res.csv 0.0322 $r
  r=$((r+1))
done
echo "end $(date -u) load $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$BATCHES" "$ROUNDS" <<'PY'
import json, sys, statistics as st
bs = sys.argv[1].split(); R = int(sys.argv[2])
print('| net | ' + ' | '.join('batch %s ms/sample' % b for b in bs) + ' | GFLOP/sample (1 / max) | rows stacked (max batch) |')
print('|---' * (len(bs) + 3) + '|')
for n in ['mnist256x6', 'eran9x200', 'cifar_base_kw', 'resnet_2b']:
    cells, fl = [], []
    for b in bs:
        t = []
        for r in range(1, R + 1):
            try: s = json.load(open('%s_b%s.r%d.json' % (n, b, r)))['samples']
            except Exception: continue
            t.append(sum(x['cpu_ms'] for x in s) / len(s))
            fl.append((b, sum(x['flops'] for x in s) / len(s) / 1e9, sum(x['rows_batched'] for x in s)))
        cells.append('%.1f' % st.median(t) if t else '-')
    f1 = [f for b, f, _ in fl if b == bs[0]]; fm = [(f, rb) for b, f, rb in fl if b == bs[-1]]
    print('| %s | %s | %s / %s | %s |' % (n, ' | '.join(cells), '%.3f' % f1[0] if f1 else '-', '%.3f' % fm[0][0] if fm else '-', fm[0][1] if fm else '-'))
PY
