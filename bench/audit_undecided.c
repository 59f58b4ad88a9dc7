/*
** bench/audit_undecided.c: does `cerbere audit` leave rows `undecided` that
** plain sampling shows to be unstable?  (A measurement, not a test; the
** numbers go to bench/RESULTS_attributions.md.)  `make bench-audit`.
**
**   audit_undecided NET CSV DIR [SAMPLES] [SEED]
**
** Reads DIR/audit.json (written by `cerbere audit NET --data CSV --out DIR`),
** and for every row draws SAMPLES (default 3000) points of the row's ball,
** independently of the audit (another RNG and another distribution:
** uniform in the L-inf box / the L2 or L1 ball, clipped when the audit
** was), recomputes the map at each (same method and settings) and counts
** the rows whose top-k set changes at some sampled point (attr_topk_changed,
** the audit's own margin).  Prints per verdict the rows and the rows where
** sampling found a change; "undecided but sampling found a change" is what
** the audit should never leave, "stable but sampling found a change" would
** be a soundness bug.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "attr.h"
#include "cerbere.h"

static char *slurp(const char *path)
{
  FILE *f = fopen(path, "rb");
  char *s;
  long n;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  s = malloc((size_t)n + 1);
  if (s && fread(s, 1, (size_t)n, f) != (size_t)n) { free(s); s = NULL; }
  if (s) s[n] = 0;
  fclose(f);
  return s;
}

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

/* A uniform point of the ball (L-inf box, L2 ball, L1 ball), clipped. */
static void draw(uint64_t *rs, cb_norm norm, double eps, const double *x, size_t n, const double *clip, double *y)
{
  if (norm == CB_NORM_INF) for (size_t i = 0; i < n; i++) y[i] = x[i] + eps * (2 * attr_rng_unit(rs) - 1);
  else {
    double s = 0, r = eps * pow(attr_rng_unit(rs), 1.0 / (double)n);
    for (size_t i = 0; i < n; i++) {
      y[i] = norm == CB_NORM_2 ? attr_rng_normal(rs) : -log(1 - attr_rng_unit(rs)) * (attr_rng_unit(rs) < 0.5 ? -1 : 1);
      s += norm == CB_NORM_2 ? y[i] * y[i] : fabs(y[i]);
    }
    s = norm == CB_NORM_2 ? sqrt(s) : s;
    for (size_t i = 0; i < n; i++) y[i] = x[i] + r * y[i] / (s > 0 ? s : 1);
  }
  if (clip) for (size_t i = 0; i < n; i++) y[i] = fmin(fmax(y[i], clip[0]), clip[1]);
}

int main(int argc, char **argv)
{
  char path[4096], *txt;
  cJSON *j;
  const cJSON *set, *s;
  cb_net *net = NULL;
  cb_error err = {0};
  attr_opt ao;
  attr_ctx *a;
  int N = argc > 4 ? atoi(argv[4]) : 3000, rows[3] = {0}, found[3] = {0}, k;
  uint64_t seed = argc > 5 ? strtoull(argv[5], NULL, 10) : 20261207;
  double clip[2], eps;
  cb_norm norm = CB_NORM_INF;
  if (argc < 4) { fprintf(stderr, "usage: audit_undecided NET CSV DIR [SAMPLES] [SEED]\n"); return 2; }
  snprintf(path, sizeof path, "%s/audit.json", argv[3]);
  if (!(txt = slurp(path)) || !(j = cJSON_Parse(txt))) { fprintf(stderr, "%s: cannot read\n", path); return 1; }
  if (cb_net_load(argv[1], &net, &err) != CB_OK) { fprintf(stderr, "%s\n", err.msg); return 1; }
  set = get(j, "settings");
  attr_opt_init(&ao);
  if (!attr_method_parse(get(set, "method")->valuestring, &ao.method)) { fprintf(stderr, "unknown method\n"); return 1; }
  if (cJSON_IsNumber(get(set, "steps"))) ao.steps = (int)get(set, "steps")->valuedouble;
  if (cJSON_IsNumber(get(set, "baseline"))) ao.baseline = get(set, "baseline")->valuedouble;
  if (cJSON_IsString(get(set, "baseline"))) { fprintf(stderr, "vector baselines: not handled here\n"); return 1; }
  if (cJSON_IsNumber(get(set, "baselines"))) ao.n_baselines = (int)get(set, "baselines")->valuedouble;
  if (cJSON_IsNumber(get(set, "samples"))) ao.samples = (int)get(set, "samples")->valuedouble;
  if (cJSON_IsNumber(get(set, "sigma"))) ao.sigma = get(set, "sigma")->valuedouble;
  if (cJSON_IsNumber(get(set, "patch"))) ao.patch = (int)get(set, "patch")->valuedouble;
  if (cJSON_IsNumber(get(set, "stride"))) ao.stride = (int)get(set, "stride")->valuedouble;
  if (cJSON_IsNumber(get(set, "rise_p"))) ao.rise_p = get(set, "rise_p")->valuedouble;
  if (cJSON_IsNumber(get(set, "rise_cells"))) ao.rise_cells = (int)get(set, "rise_cells")->valuedouble;
  if (cJSON_IsNumber(get(set, "seed"))) ao.seed = (uint64_t)get(set, "seed")->valuedouble;
  if (cJSON_IsString(get(set, "node"))) ao.node = get(set, "node")->valuestring;
  if (!strcmp(get(set, "norm")->valuestring, "2")) norm = CB_NORM_2;
  else if (!strcmp(get(set, "norm")->valuestring, "1")) norm = CB_NORM_1;
  eps = get(set, "eps")->valuedouble;
  if (cJSON_IsArray(get(set, "clip"))) { clip[0] = cJSON_GetArrayItem(get(set, "clip"), 0)->valuedouble; clip[1] = cJSON_GetArrayItem(get(set, "clip"), 1)->valuedouble; }
  k = (int)get(set, "topk")->valuedouble;
  if (!(a = attr_new(net, &ao, &err))) { fprintf(stderr, "%s\n", err.msg); return 1; }
  {
    size_t n = a->n, nm = attr_map_size(a);
    double *y = malloc((n + nm) * sizeof *y), *m = y + n;
    int *t0 = malloc(4 * (size_t)k * sizeof *t0), *t1 = t0 + k, *en = t1 + k, *lf = en + k, ne, nl;
    uint64_t rs = seed;
    cJSON_ArrayForEach(s, get(j, "samples")) {
      const char *v = get(s, "verdict")->valuestring;
      int vi = !strcmp(v, "stable") ? 0 : !strcmp(v, "unstable") ? 1 : 2, hit = 0, target = (int)get(s, "target")->valuedouble;
      const cJSON *xs = get(s, "x");
      double *x = malloc(n * sizeof *x);
      for (size_t i = 0; i < n; i++) x[i] = cJSON_GetArrayItem(xs, (int)i)->valuedouble;
      for (int q = 0; q < k; q++) t0[q] = (int)cJSON_GetArrayItem(get(s, "topk"), q)->valuedouble;
      for (int q = 0; q < N && !hit; q++) {
        draw(&rs, norm, eps, x, n, cJSON_IsArray(get(set, "clip")) ? clip : NULL, y);
        if (attr_map(a, y, target, m, &err) != CB_OK) { fprintf(stderr, "%s\n", err.msg); return 1; }
        hit = attr_topk_changed(m, nm, (size_t)k, t0, t1, en, &ne, lf, &nl);
      }
      rows[vi]++;
      found[vi] += hit;
      if (hit && vi != 1) printf("row %d (%s): %d samples found a top-k change\n", (int)get(s, "index")->valuedouble, v, N);
      free(x);
    }
    free(y); free(t0);
  }
  printf("%s %s L%s eps %g top-%d, %d samples per ball: stable %d (sampling found a change: %d), unstable %d (%d), "
         "undecided %d (%d)\n", argv[1], get(set, "method")->valuestring, get(set, "norm")->valuestring, eps, k, N,
         rows[0], found[0], rows[1], found[1], rows[2], found[2]);
  attr_free(a);
  cb_net_free(net);
  cJSON_Delete(j);
  free(txt);
  return found[0] || found[2] ? 3 : 0;
}
