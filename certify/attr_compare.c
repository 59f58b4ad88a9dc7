/*
** Metrics that compare maps: across models (MeGe, ReCo), of one map
** (sparseness, complexity), and the randomisation sanity checks' building
** blocks (re-initialised parameters, rank correlation).
**
** MeGe and ReCo (Fel, Vigouroux et al. 2020, "How good is your explanation?";
** the K-models / K-splits protocol of Xplique's metrics.MeGe): the data is
** partitioned into K splits and model k was trained on every split but k.
** For every pair of models i < j and every row n whose split is i or j (one
** of the two models never saw it) where at least one of the two predicts the
** label: d = sqrt(1 - |rho|), rho the Spearman rank correlation of the two
** maps (average ranks for ties; a constant map gives no rho and the pair is
** left out, as Xplique drops its NaN); d goes to S= when both predictions
** agree (both correct), else to S!=.
**   MeGe = 1 / (1 + mean S=)
**   ReCo = max(0, max over gamma of TPR + TNR - 1), TPR = #(S= < gamma) /
**          (#(S= < gamma) + #(S= > gamma)), TNR = #(S!= > gamma) /
**          (#(S!= > gamma) + #(S!= < gamma)), gamma running over the sorted
**          S= u S!= with step floor(|S|/20) + 1 from the first, as Xplique.
** One deviation, documented: a rate whose denominator is 0 counts as 1
** (nothing misclassified) where Xplique's 1e-10 guard makes it 0; so K
** identical models (S= all 0, S!= empty) get ReCo 1, not 0.
**
** Sparseness: the Gini index of |map| (Chalasani et al. 2020):
**   G = sum_i (2 i - n - 1) a_(i) / (n sum a), a sorted ascending, i = 1..n
**   (1: one feature holds everything; 0: all equal or all zero).
** Complexity: the entropy of p_i = |map_i| / sum |map| (Bhatt et al. 2020),
**   -sum p_i ln p_i (0 for an all-zero map; ln n at most).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "attr.h"

static int cmp_double(const void *p, const void *q)
{
  double a = *(const double *)p, b = *(const double *)q;
  return (a > b) - (a < b);
}

typedef struct vi { double v; size_t i; } vi;
static int cmp_vi(const void *p, const void *q)
{
  const vi *a = p, *b = q;
  return a->v < b->v ? -1 : a->v > b->v ? 1 : (a->i > b->i) - (a->i < b->i);
}

/* Average ranks (1-based) of v into r; work: n vi. */
static void ranks(const double *v, size_t n, double *r, vi *w)
{
  for (size_t i = 0; i < n; i++) { w[i].v = v[i]; w[i].i = i; }
  qsort(w, n, sizeof *w, cmp_vi);
  for (size_t s = 0; s < n;) {
    size_t e = s + 1;
    while (e < n && w[e].v == w[s].v) e++;
    for (size_t k = s; k < e; k++) r[w[k].i] = 0.5 * (double)(s + 1 + e);
    s = e;
  }
}

double attr_spearman(const double *a, const double *b, size_t n)
{
  double *r = cb_alloc(2 * n * sizeof *r), ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0, rho;
  vi *w = cb_alloc(n * sizeof *w);
  if (!r || !w || n < 2) { cb_free(r); cb_free(w); return NAN; }
  ranks(a, n, r, w);
  ranks(b, n, r + n, w);
  for (size_t i = 0; i < n; i++) { ma += r[i]; mb += r[n + i]; }
  ma /= (double)n; mb /= (double)n;
  for (size_t i = 0; i < n; i++) {
    double x = r[i] - ma, y = r[n + i] - mb;
    sab += x * y; saa += x * x; sbb += y * y;
  }
  rho = saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : NAN;
  cb_free(r);
  cb_free(w);
  return rho;
}

int attr_mege_reco(const double *maps, const int *pred, const int *label, const int *split, size_t K, size_t R,
                   size_t nm, attr_mege_res *out, cb_error *err)
{
  size_t cap = K * (K - 1) / 2 * R + 1, ne = 0, nn = 0, nt;
  double *eq = cb_alloc(3 * cap * sizeof *eq), *ne_ = eq + cap, *all = ne_ + cap, sum = 0;
  memset(out, 0, sizeof *out);
  if (!eq) return cb_error_set(err, CB_ENOMEM, "out of memory for %zu distances", cap);
  for (size_t i = 0; i < K; i++)
    for (size_t j = i + 1; j < K; j++)
      for (size_t n = 0; n < R; n++) {
        double rho, d;
        int pi = pred[i * R + n], pj = pred[j * R + n];
        if ((size_t)split[n] != i && (size_t)split[n] != j) continue;
        if (pi != label[n] && pj != label[n]) continue;
        rho = attr_spearman(maps + (i * R + n) * nm, maps + (j * R + n) * nm, nm);
        if (isnan(rho)) { out->n_nan++; continue; }
        d = sqrt(fmax(0, 1 - fabs(rho)));
        if (pi == pj) eq[ne++] = d; else ne_[nn++] = d;
      }
  out->n_eq = ne;
  out->n_ne = nn;
  for (size_t k = 0; k < ne; k++) sum += eq[k];
  out->mege = ne ? 1 / (1 + sum / (double)ne) : NAN;
  nt = ne + nn;
  memcpy(all, eq, ne * sizeof *all);
  memcpy(all + ne, ne_, nn * sizeof *all);
  qsort(all, nt, sizeof *all, cmp_double);
  out->reco = 0;
  for (size_t s = 0; s < nt; s += nt / 20 + 1) {
    double g = all[s], tp = 0, fn = 0, tn = 0, fp = 0, tpr, tnr;
    for (size_t k = 0; k < ne; k++) { tp += eq[k] < g; fn += eq[k] > g; }
    for (size_t k = 0; k < nn; k++) { tn += ne_[k] > g; fp += ne_[k] < g; }
    tpr = tp + fn > 0 ? tp / (tp + fn) : 1;
    tnr = tn + fp > 0 ? tn / (tn + fp) : 1;
    out->reco = fmax(out->reco, tpr + tnr - 1);
  }
  if (!nt) out->reco = NAN;
  cb_free(eq);
  return CB_OK;
}

double attr_sparseness(const double *map, size_t n)
{
  double *a = cb_alloc(n * sizeof *a), s = 0, g = 0;
  if (!a || !n) { cb_free(a); return NAN; }
  for (size_t i = 0; i < n; i++) s += (a[i] = fabs(map[i]));
  qsort(a, n, sizeof *a, cmp_double);
  for (size_t i = 0; i < n; i++) g += (2.0 * (double)(i + 1) - (double)n - 1) * a[i];
  cb_free(a);
  return s > 0 ? g / ((double)n * s) : 0;
}

double attr_complexity(const double *map, size_t n)
{
  double s = 0, h = 0;
  for (size_t i = 0; i < n; i++) s += fabs(map[i]);
  if (!(s > 0)) return 0;
  for (size_t i = 0; i < n; i++) {
    double p = fabs(map[i]) / s;
    if (p > 0) h -= p * log(p);
  }
  return h;
}

int attr_randomise_net(cb_net *net, int layers, uint64_t seed, int *done)
{
  int count = 0;
  for (int i = net->n - 1; i > 0 && (layers <= 0 || count < layers); i--) {
    cb_node *nd = &net->node[i];
    double *W, *b, m = 0, v = 0, sd;
    size_t nw, nb;
    if (nd->kind == CB_AFFINE) { W = nd->p.aff.W; b = nd->p.aff.b; nw = nd->p.aff.out * nd->p.aff.in; nb = nd->p.aff.out; }
    else if (nd->kind == CB_CONV) {
      const cb_conv *g = &nd->p.conv.g;
      W = nd->p.conv.W; b = nd->p.conv.b;
      nw = (size_t)g->cout * (size_t)(g->cin / g->groups) * (size_t)g->kh * (size_t)g->kw;
      nb = (size_t)g->cout;
    } else continue;
    for (size_t k = 0; k < nw; k++) m += W[k] / (double)nw;
    for (size_t k = 0; k < nw; k++) v += (W[k] - m) * (W[k] - m) / (double)nw;
    sd = v > 0 ? sqrt(v) : 1;
    {
      uint64_t s = seed * 0x9E3779B97F4A7C15ull + (uint64_t)i;
      for (size_t k = 0; k < nw; k++) W[k] = sd * attr_rng_normal(&s);
      if (b) for (size_t k = 0; k < nb; k++) b[k] = 0;
    }
    count++;
  }
  if (done) *done = count;
  return count ? CB_OK : CB_EUNSUP;
}

/* A shallow copy of net whose re-initialised layers own fresh weights. */
typedef struct rcopy { cb_net net; double *owned; } rcopy;

cb_net *attr_randomised_copy(const cb_net *net, int layers, uint64_t seed, int *done, cb_error *err)
{
  rcopy *c = cb_calloc(1, sizeof *c);
  size_t total = 0;
  int count = 0, rc;
  double *p;
  if (!c || !(c->net.node = cb_alloc((size_t)net->n * sizeof *c->net.node))) goto oom;
  memcpy(c->net.node, net->node, (size_t)net->n * sizeof *c->net.node);
  for (int pass = 0; pass < 2; pass++) {   /* 0: size the layers attr_randomise_net will move, 1: give them copies */
    count = 0;
    p = c->owned;
    for (int i = net->n - 1; i > 0 && (layers <= 0 || count < layers); i--) {
      cb_node *nd = &c->net.node[i];
      size_t nw, nb;
      if (nd->kind == CB_AFFINE) { nw = nd->p.aff.out * nd->p.aff.in; nb = nd->p.aff.out; }
      else if (nd->kind == CB_CONV) {
        nw = (size_t)nd->p.conv.g.cout * (size_t)(nd->p.conv.g.cin / nd->p.conv.g.groups) * (size_t)nd->p.conv.g.kh * (size_t)nd->p.conv.g.kw;
        nb = (size_t)nd->p.conv.g.cout;
      } else continue;
      count++;
      if (!pass) { total += nw + nb; continue; }
      if (nd->kind == CB_AFFINE) {
        memcpy(p, nd->p.aff.W, nw * sizeof *p); nd->p.aff.W = p; p += nw;
        if (nd->p.aff.b) { memcpy(p, nd->p.aff.b, nb * sizeof *p); nd->p.aff.b = p; } p += nb;
      } else {
        memcpy(p, nd->p.conv.W, nw * sizeof *p); nd->p.conv.W = p; p += nw;
        if (nd->p.conv.b) { memcpy(p, nd->p.conv.b, nb * sizeof *p); nd->p.conv.b = p; } p += nb;
      }
    }
    if (!pass && !(c->owned = cb_alloc((total ? total : 1) * sizeof *c->owned))) goto oom;
  }
  c->net.n = net->n; c->net.cap = net->n; c->net.output = net->output;
  c->net.path = net->path; c->net.format = net->format; c->net.producer = net->producer;
  c->net.ir_version = net->ir_version; c->net.opset = net->opset;
  c->net.input_name = net->input_name; c->net.output_name = net->output_name;
  c->net.input_shape = net->input_shape; c->net.in_min = net->in_min; c->net.in_max = net->in_max;
  if ((rc = attr_randomise_net(&c->net, layers, seed, done)) != CB_OK) {
    attr_randomised_copy_free(&c->net);
    cb_error_set(err, rc, "%s: the network has no AFFINE or CONV layer to re-initialise", net->path);
    return NULL;
  }
  (void)count;
  return &c->net;
oom:
  if (c) { cb_free(c->net.node); cb_free(c); }
  cb_error_set(err, CB_ENOMEM, "out of memory");
  return NULL;
}

void attr_randomised_copy_free(cb_net *net)
{
  rcopy *c = (rcopy *)net;
  if (!c) return;
  cb_free(c->owned);
  cb_free(c->net.node);
  cb_free(c);
}
