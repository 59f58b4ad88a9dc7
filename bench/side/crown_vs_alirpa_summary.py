import json,statistics,glob,sys
nets=['mnist256x6','eran9x200','cifar_base_kw','resnet_2b','pooled_cnn','cifar_wide_kw','cifar_deep_kw','cifar10_small','resnet_4b']
import os,re
rate=None   # median of the n=1024 medians in dgemm.txt (start and end of the run)
if os.path.exists('dgemm.txt'):
  r=[float(m.group(1)) for m in re.finditer(r'n=1024 1 thread: median ([0-9.]+)',open('dgemm.txt').read())]
  if r: rate=statistics.median(r); print(f'dgemm n=1024, 1 thread, CPU time: {", ".join(str(x) for x in r)} GFLOP/s (start, end)\n')
base=any(os.path.exists(n+'_'+m+'.base1.json') for n in nets for m in ('crown','alpha-crown','ibp','crown-ibp'))   # any method's base run (METHODS=alpha-crown alone too)
print('| net | method | cerbere CPU ms/sample (median) | auto_LiRPA CPU ms/sample (median) | ratio | cerbere mean margin | auto_LiRPA mean margin | margins looser by > 1e-4 (max auto_LiRPA - cerbere) | cerbere GFLOP/sample |'+(' GFLOP/s | of dgemm |' if rate else '')+(' base CPU ms/sample | base / cerbere | base vs auto_LiRPA | base mean margin |' if base else ''))
print('|---|---|---|---|---|---|---|---|---|'+('---|---|' if rate else '')+('---|---|---|---|' if base else ''))
def load(n,m,tags):
  cb={}
  for t in tags:
    try: d=json.load(open(n+'_'+m+'.'+t+'.json'))
    except Exception: continue
    for s in d['samples']:
      k=s['index']; cb[k]=(min(cb.get(k,(1e30,))[0], s['cpu_ms']), s['margin_lb'], s['flops'])
  return cb
for n in nets:
  al={}
  for f in (n+'.al1.jsonl',n+'.al2.jsonl'):
    try:
      for l in open(f):
        if not l.startswith('{'): continue
        r=json.loads(l); k=(r['method'],r['row'])
        al[k]=min(al.get(k,(1e30,None))[0], r['cpu_ms']), r['margin_lb']
    except FileNotFoundError: pass
  for m,M in (('ibp','IBP'),('crown','CROWN'),('alpha-crown','alpha-CROWN')):
    cb=load(n,m,('cb1','cb2')); bs=load(n,m,('base1','base2'))
    rows=sorted(k for k in cb if (M,k) in al)
    if not rows: continue
    tc=statistics.median(cb[k][0] for k in rows); ta=statistics.median(al[(M,k)][0] for k in rows)
    mc=statistics.mean(x for k in rows for x in cb[k][1]); ma=statistics.mean(x for k in rows for x in al[(M,k)][1])
    fl=statistics.median(cb[k][2] for k in rows)/1e9
    extra=''
    if rate is not None:   # median GFLOP per sample over the median CPU time per sample
      gf=fl/(tc*1e-3); extra+=f' {gf:.1f} | {100*gf/rate:.0f}% |'
    if base and all(k in bs for k in rows):
      tb=statistics.median(bs[k][0] for k in rows); mb=statistics.mean(x for k in rows for x in bs[k][1])
      extra+=f' {tb:.2f} | {tb/tc:.2f}x | {ta/tb:.1f}x | {mb:.6g} |'
    # margin by margin (same row, same class order): how many of cerbere's are looser than auto_LiRPA's by > 1e-4
    d=[a-c for k in rows for c,a in zip(cb[k][1],al[(M,k)][1])]
    loose=f'{sum(x>1e-4 for x in d)}/{len(d)} (max {max(d):.2g})'
    print(f'| {n} | {M} | {tc:.2f} | {ta:.2f} | {ta/tc:.1f}x | {mc:.6g} | {ma:.6g} | {loose} | {fl:.3f} |'+extra)
