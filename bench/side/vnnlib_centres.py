#!/usr/bin/python3
"""vnnlib_centres.py OUT.csv V1.vnnlib ...: one CSV row per VNNLIB file, label,x0..x(n-1) with x the
centre of the file's input box and label the output every disjunct compares against; prints each
file's largest box half-width (the ball radius used for it).  Bench helper (issue 24), not a product part."""
import sys,re
out=open(sys.argv[1],'w')
for f in sys.argv[2:]:
    t=open(f).read()
    lo={};hi={}
    for m in re.finditer(r'\(assert \((<=|>=) X_(\d+) ([-0-9.eE+]+)\)\)',t):
        op,i,v=m.group(1),int(m.group(2)),float(m.group(3))
        (hi if op=='<=' else lo)[i]=v
    n=len(lo); c=[(lo[i]+hi[i])/2 for i in range(n)]; r=max((hi[i]-lo[i])/2 for i in range(n))
    # label: Y_k where (<= Y_j Y_k) in every disjunct -> find most common second index
    from collections import Counter
    ys=[b for a,b in re.findall(r'\(>= Y_(\d+) Y_(\d+)\)',t)]+[a for a,b in re.findall(r'\(<= Y_(\d+) Y_(\d+)\)',t)]
    lab=Counter(ys).most_common(1)[0][0] if ys else '0'
    out.write(lab+','+','.join(repr(x) for x in c)+'\n')
    print(f, 'eps', r, 'label', lab)
