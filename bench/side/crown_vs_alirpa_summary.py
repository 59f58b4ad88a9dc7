import json,statistics,glob,sys
nets=['mnist256x6','eran9x200','cifar_base_kw','resnet_2b']
print('| net | method | cerbere CPU ms/sample (median) | auto_LiRPA CPU ms/sample (median) | ratio | cerbere mean margin | auto_LiRPA mean margin | cerbere GFLOP/sample |')
print('|---|---|---|---|---|---|---|---|')
for n in nets:
  al={}
  for f in (n+'.al1.jsonl',n+'.al2.jsonl'):
    try:
      for l in open(f):
        if not l.startswith('{'): continue
        r=json.loads(l); k=(r['method'],r['row'])
        al[k]=min(al.get(k,(1e30,None))[0], r['cpu_ms']), r['margin_lb']
    except FileNotFoundError: pass
  for m,M in (('ibp','IBP'),('crown','CROWN')):
    cb={}
    for f in (n+'_'+m+'.cb1.json',n+'_'+m+'.cb2.json'):
      try: d=json.load(open(f))
      except Exception: continue
      for s in d['samples']:
        k=s['index']; cb[k]=(min(cb.get(k,(1e30,))[0], s['cpu_ms']), s['margin_lb'], s['flops'])
    rows=sorted(k for k in cb if (M,k) in al)
    if not rows: continue
    tc=statistics.median(cb[k][0] for k in rows); ta=statistics.median(al[(M,k)][0] for k in rows)
    mc=statistics.mean(x for k in rows for x in cb[k][1]); ma=statistics.mean(x for k in rows for x in al[(M,k)][1])
    fl=statistics.median(cb[k][2] for k in rows)/1e9
    print(f'| {n} | {M} | {tc:.2f} | {ta:.2f} | {ta/tc:.1f}x | {mc:.6g} | {ma:.6g} | {fl:.3f} |')
