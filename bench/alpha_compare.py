#!/usr/bin/python3
"""Compare cerbere's margins (bench/alpha_vnn --json) with auto_LiRPA's (alirpa_bounds.py output), same rows.
  alpha_compare.py CERBERE.jsonl[,MORE...] ALIRPA.jsonl[,MORE...]
(several runs of one tool: the margins of the first, each sample's least CPU time over all)
Per method: mean margin of each tool, median (over samples) CPU ms per sample, their ratio, and the worst excess
(auto_LiRPA's margin minus cerbere's: > 0 where cerbere is looser) over every margin."""
import json, statistics, sys
def load(paths):
    d = {}
    for p in paths.split(','):
        for line in open(p):
            if line.startswith('{'):
                r = json.loads(line)
                k = (r['method'], r['row'])
                if k in d:
                    d[k]['cpu_ms'] = min(d[k]['cpu_ms'], r['cpu_ms'])
                else:
                    d[k] = r
    return d
cb, al = load(sys.argv[1]), load(sys.argv[2])
print('| method | cerbere mean margin | auto_LiRPA mean margin | worst excess | cerbere CPU ms | auto_LiRPA CPU ms | ratio |')
print('|---|---|---|---|---|---|---|')
for m in ('IBP', 'CROWN', 'alpha-CROWN'):
    rows = sorted(r for (mm, r) in cb if mm == m and (mm, r) in al)
    if not rows:
        continue
    mc = statistics.mean(x for r in rows for x in cb[(m, r)]['margin_lb'])
    ma = statistics.mean(x for r in rows for x in al[(m, r)]['margin_lb'])
    ex = max(a - c for r in rows for c, a in zip(cb[(m, r)]['margin_lb'], al[(m, r)]['margin_lb']))
    tc = statistics.median(cb[(m, r)]['cpu_ms'] for r in rows)
    ta = statistics.median(al[(m, r)]['cpu_ms'] for r in rows)
    print(f'| {m} | {mc:.6g} | {ma:.6g} | {ex:.3g} | {tc:.1f} | {ta:.1f} | {tc / ta:.2f} |')
