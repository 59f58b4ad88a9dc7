/*
** Attribution core (see attr.h): options, the per-thread context, the
** target rule, the score and its gradient, the dispatch to each family and
** a small seeded RNG (splitmix64) so every random method is reproducible.
*/
#include <math.h>
#include <string.h>
#include "attr.h"
#include "forward.h"
#include "rng.h"

const char *const attr_method_name[AM_COUNT] = {
  "saliency", "gradxinput", "ig", "smoothgrad", "vargrad", "squaregrad",
  "occlusion", "rise", "gradcam", "gradcampp", "eva",
  "lrp", "deeplift", "guidedbackprop", "deconvnet", "kernelshap",
  "scorecam", "opticam", "lime", "sobol", "hsic", "rollout"
};

void attr_opt_init(attr_opt *o)
{
  memset(o, 0, sizeof *o);
  o->target = -1;
  o->steps = 50;
  o->samples = 0;           /* 0 = the method's default */
  o->sigma = 0.2;
  o->seed = 1;
  o->patch = 0;             /* 0 = the method's default */
  o->stride = 1;
  o->rise_p = 0.5;
  o->rise_cells = 4;
  o->reduce = 1;
  o->norm = CB_NORM_INF;
  o->eps = 0.05;
  o->lrp_rule[0] = LRP_EPS;
  o->lrp_rule[1] = LRP_ZPLUS;
  o->lrp_eps = 1e-6;
  o->lr = 0.1;
  o->grid = 8;
  o->kernel_width = 0.25;
  o->ridge = 1;
  o->query = -1;
  o->lrp_gamma = 0.25;
  o->lrp_alpha = 2;
}

int attr_lrp_rule_parse(const char *s, attr_opt *o, char *msg, size_t cap)
{
  char buf[128], *tok, *save = NULL;
  if (strlen(s) >= sizeof buf) { if (msg) snprintf(msg, cap, "too long"); return 0; }
  strcpy(buf, s);
  for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(tok, '=');
    const char *name = eq ? eq + 1 : tok;
    int r = -1, t0 = 0, t1 = 1;
    for (int k = 0; k < LRP_COUNT; k++) if (!strcmp(name, attr_lrp_rule_name[k])) r = k;
    if (r < 0) { if (msg) snprintf(msg, cap, "%s: unknown LRP rule '%s' (eps, gamma, zplus, alphabeta)", s, name); return 0; }
    if (eq) {
      *eq = 0;
      if (!strcmp(tok, "dense")) t1 = 0;
      else if (!strcmp(tok, "conv")) t0 = 1;
      else { if (msg) snprintf(msg, cap, "%s: LRP rules are set for the layer types dense and conv, not '%s'", s, tok); return 0; }
    }
    for (int t = t0; t <= t1; t++) { o->lrp_rule[t] = (attr_lrp_rule)r; o->lrp_rule_set[t] = eq ? 2 : 1; }
  }
  return 1;
}

int attr_method_parse(const char *s, attr_method *m)
{
  for (int k = 0; k < AM_COUNT; k++)
    if (!strcmp(s, attr_method_name[k])) { *m = (attr_method)k; return 1; }
  return 0;
}

void attr_image(const cb_net *net, int *c, int *h, int *w)
{
  const cb_shape *s = &net->node[0].shape;
  size_t n = net->node[0].size, r = (size_t)floor(sqrt((double)n) + 0.5);
  if (s->rank == 4) { *c = (int)s->dim[1]; *h = (int)s->dim[2]; *w = (int)s->dim[3]; return; }
  *c = 1;
  if (r > 1 && r * r == n) { *h = *w = (int)r; return; }
  *h = 1;
  *w = (int)n;
}

/* The attribution methods' draws: src/rng.c's generator (one for the project). */
uint64_t attr_rng_next(uint64_t *s) { return cb_rng_next(s); }

double attr_rng_unit(uint64_t *s) { return cb_rng_unit(s); }

double attr_rng_normal(uint64_t *s) { return cb_rng_normal(s); }

/* Method defaults and option checks that do not need a row. */
static int check_opt(attr_ctx *a, cb_error *err)
{
  attr_opt *o = &a->opt;
  if (!o->samples)
    o->samples = o->method == AM_RISE || o->method == AM_KERNELSHAP ? 2000 : o->method == AM_LIME ? 500 :
                 o->method == AM_SOBOL ? 32 : o->method == AM_HSIC ? 500 : 50;
  if (!o->patch) o->patch = o->method == AM_OCCLUSION ? 2 : 1;
  if (o->steps < 1 || o->steps > 100000) return cb_error_set(err, CB_EUSAGE, "IG steps must be in 1..100000 (got %d)", o->steps);
  if (o->samples < 1 || o->samples > 10000000) return cb_error_set(err, CB_EUSAGE, "samples must be in 1..10^7 (got %d)", o->samples);
  if (o->patch < 1 || o->stride < 1) return cb_error_set(err, CB_EUSAGE, "patch and stride must be >= 1");
  if (!(o->sigma >= 0) || !isfinite(o->sigma)) return cb_error_set(err, CB_EUSAGE, "sigma must be a finite number >= 0");
  if (!(o->rise_p > 0 && o->rise_p <= 1)) return cb_error_set(err, CB_EUSAGE, "RISE probability must be in (0, 1]");
  if (o->rise_cells < 1) return cb_error_set(err, CB_EUSAGE, "RISE cells must be >= 1");
  if (!(o->eps >= 0) || !isfinite(o->eps)) return cb_error_set(err, CB_EUSAGE, "eps must be a finite number >= 0 (got %g)", o->eps);
  if (!isfinite(o->baseline)) return cb_error_set(err, CB_EUSAGE, "the baseline must be finite");
  if (o->baseline_vec)
    for (size_t i = 0; i < a->n; i++)
      if (!isfinite(o->baseline_vec[i])) return cb_error_set(err, CB_EUSAGE, "baseline value %zu is not finite", i);
  if (!(o->lr > 0) || !isfinite(o->lr)) return cb_error_set(err, CB_EUSAGE, "the learning rate must be a finite number > 0 (got %g)", o->lr);
  if (o->grid < 1 || o->grid > 64) return cb_error_set(err, CB_EUSAGE, "the grid side must be in 1..64 (got %d)", o->grid);
  if (!(o->kernel_width > 0) || !isfinite(o->kernel_width)) return cb_error_set(err, CB_EUSAGE, "the kernel width must be a finite number > 0 (got %g)", o->kernel_width);
  if (!(o->ridge >= 0) || !isfinite(o->ridge)) return cb_error_set(err, CB_EUSAGE, "the ridge penalty must be a finite number >= 0 (got %g)", o->ridge);
  if (o->method == AM_SOBOL && (o->samples & (o->samples - 1))) return cb_error_set(err, CB_EUSAGE, "sobol: --samples (the design size) must be a power of two (got %d)", o->samples);
  if (o->method == AM_GRADCAM || o->method == AM_GRADCAMPP || o->method == AM_SCORECAM || o->method == AM_OPTICAM)
    return attr_cam_node(a->net, attr_method_name[o->method], o->node, &a->cam_node, err);
  return attr_rules_check(a->net, o, err);
}

attr_ctx *attr_new(const cb_net *net, const attr_opt *o, cb_error *err)
{
  attr_ctx *a = cb_calloc(1, sizeof *a);
  size_t n = net->node[0].size, no = net->node[net->output].size;
  if (!a) { cb_error_set(err, CB_ENOMEM, "out of memory"); return NULL; }
  a->net = net;
  a->opt = *o;
  a->n = n;
  a->no = no;
  if (check_opt(a, err) != CB_OK) { cb_free(a); return NULL; }
  if (!(a->g = grad_new(net, 1, err))) { cb_free(a); return NULL; }
  if (bnet_init(&a->bn, net, err) != CB_OK) { attr_free(a); return NULL; }
  attr_image(net, &a->ch, &a->ih, &a->iw);
  a->nm = a->opt.reduce && a->ch > 1 ? (size_t)a->ih * (size_t)a->iw : n;
  if (a->opt.method == AM_ROLLOUT && attr_attn_new(a, err) != CB_OK) { attr_free(a); return NULL; }
  a->C = cb_calloc(2 * no + 5 * n + ATTR_BATCH * (n + no), sizeof(double));
  if (!a->C) { attr_free(a); cb_error_set(err, CB_ENOMEM, "out of memory"); return NULL; }
  a->y = a->C + no;
  a->G = a->y + no;
  a->t1 = a->G + n;
  a->t2 = a->t1 + n;
  a->t3 = a->t2 + n;
  a->batch = a->t3 + n;
  a->ybatch = a->batch + ATTR_BATCH * n;
  a->full = a->ybatch + ATTR_BATCH * no;
  return a;
}

void attr_free(attr_ctx *a)
{
  if (!a) return;
  grad_free(a->g);
  attr_rules_free(a->rules);
  attr_attn_free(a->attn);
  fwd_ws_free(a->fw);
  bnet_free(&a->bn);
  cb_free(a->C);
  cb_free(a);
}

int attr_forward(attr_ctx *a, const double *X, size_t batch, double *Y, cb_error *err)
{
  if (!a->fw && !(a->fw = fwd_ws_new(a->net, ATTR_FWD_BATCH)))
    return cb_error_set(err, CB_ENOMEM, "%s: out of memory for the forward workspace", a->net->path);
  return fwd_ws_run(a->fw, X, batch, Y, err);
}

int attr_target(attr_ctx *a, const double *x, int label, int *target, cb_error *err)
{
  int t = a->opt.target, rc;
  if (t == -2) {
    if ((rc = cb_net_forward(a->net, x, 1, a->y, err)) != CB_OK) return rc;
    t = (int)cb_argmax(a->y, a->no);
  } else if (t == -1) t = label;
  if (t < 0 || (size_t)t >= a->no)
    return cb_error_set(err, CB_EVALUE, "target class %d is out of range (the network has %zu classes: 0..%zu)", t, a->no, a->no - 1);
  *target = t;
  return CB_OK;
}

int attr_score(attr_ctx *a, const double *x, int target, double *score, double *grad, cb_error *err)
{
  int rc;
  if ((rc = grad_forward(a->g, x, a->y, err)) != CB_OK) return rc;
  if (!isfinite(a->y[target])) return cb_error_set(err, CB_EVALUE, "the score is not finite");
  if (score) *score = a->y[target];
  if (!grad) return CB_OK;
  memset(a->C, 0, a->no * sizeof *a->C);
  a->C[target] = 1;
  return grad_backward(a->g, a->C, 1, grad, err);
}

size_t attr_map_size(const attr_ctx *a) { return a->nm; }

void attr_reduce(const attr_ctx *a, const double *full, double *map)
{
  size_t hw = a->nm;
  for (size_t p = 0; p < hw; p++) {
    double m = full[p];
    for (int c = 1; c < a->ch; c++) m = fmax(m, full[(size_t)c * hw + p]);
    map[p] = m;
  }
}

static int map_full(attr_ctx *a, const double *x, int target, double *map, cb_error *err);

int attr_map(attr_ctx *a, const double *x, int target, double *map, cb_error *err)
{
  int rc;
  if (target < 0 || (size_t)target >= a->no)
    return cb_error_set(err, CB_EVALUE, "target class %d is out of range (0..%zu)", target, a->no - 1);
  if (a->opt.method == AM_ROLLOUT) return attr_attn_map(a, x, map, err);
  if (a->nm == a->n) return map_full(a, x, target, map, err);
  if ((rc = map_full(a, x, target, a->full, err)) != CB_OK) return rc;
  attr_reduce(a, a->full, map);
  return CB_OK;
}

/* The unreduced map (n values) of the method. */
static int map_full(attr_ctx *a, const double *x, int target, double *map, cb_error *err)
{
  switch (a->opt.method) {
  case AM_SALIENCY: case AM_GRADXINPUT: case AM_IG: case AM_SMOOTHGRAD: case AM_VARGRAD: case AM_SQUAREGRAD:
    return attr_grad_map(a, x, target, map, err);
  case AM_OCCLUSION: case AM_RISE:
    return attr_perturb_map(a, x, target, map, err);
  case AM_GRADCAM: case AM_GRADCAMPP: case AM_SCORECAM: case AM_OPTICAM:
    return attr_cam_map(a, x, target, map, err);
  case AM_EVA:
    return attr_eva_map(a, x, target, map, err);
  case AM_LRP: case AM_DEEPLIFT: case AM_GUIDEDBP: case AM_DECONVNET:
    return attr_rules_map(a, x, target, map, err);
  case AM_KERNELSHAP:
    return attr_shap_map(a, x, target, map, err);
  case AM_LIME: case AM_SOBOL: case AM_HSIC:
    return attr_gsa_map(a, x, target, map, err);
  case AM_ROLLOUT: return attr_attn_map(a, x, map, err);
  case AM_COUNT: break;
  }
  return cb_error_set(err, CB_EINTERNAL, "unknown attribution method %d", (int)a->opt.method);
}
