/*
** `cerbere attribute`: one attribution map per CSV row (certify/attr.h),
** written as JSON.  Rows run in parallel (batch.h: OpenMP, one attr_ctx per
** thread, BLAS single-threaded); every map is deterministic for given options, so
** the output does not depend on the thread count.  Nothing is written when a
** row fails.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attr_cli.h"
#include "batch.h"
#include "cmd.h"
#include "report.h"

const char *const attr_cli_help =
  "  --target T     class to explain: label (default), pred (the predicted class)\n"
  "                 or a class index\n"
  "  --steps M      IG: trapezoid intervals (M + 1 gradients, default 50)\n"
  "  --baseline B   IG baseline / occlusion value: a number (default 0) or, for IG,\n"
  "                 a comma-separated list of one value per input\n"
  "  --baselines K  IG: average over K random baselines ~ U[min x, max x]^n\n"
  "  --samples N    SmoothGrad/VarGrad/SquareGrad noise samples (default 50),\n"
  "                 RISE masks (default 2000), lime samples (500), sobol design\n"
  "                 points (32, a power of two), hsic masks (500)\n"
  "  --sigma S      noise standard deviation (default 0.2)\n"
  "  --seed S       RNG seed of the random methods (default 1); sobol and hsic:\n"
  "                 the digital shift of the Sobol' design (0: none)\n"
  "  --patch P      occlusion patch side (default 2); EVA, kernelshap and lime\n"
  "                 group side (superpixel grid of P x P squares, default 1)\n"
  "  --stride S     occlusion stride (default 1)\n"
  "  --p P          RISE: probability a cell is kept (default 0.5)\n"
  "  --cells C      RISE: low-resolution grid side (default 4)\n"
  "  --node NAME    gradcam, gradcampp, scorecam, opticam: the CONV node whose maps\n"
  "                 are weighted (default: the last CONV); another kind is an error\n"
  "  --lr R         opticam: Adam learning rate (default 0.1; --steps Adam steps, 50)\n"
  "  --grid G       sobol, hsic: G x G cells (default 8, capped at the image sides)\n"
  "  --kernel-width W  lime: width of the sample weight exp(-d^2/W^2), d the cosine\n"
  "                 distance to the unmasked input (default 0.25)\n"
  "  --ridge L      lime: ridge penalty of the weighted linear fit (default 1)\n"
  "  --rule R       LRP rule of every dense and conv layer, or dense=R,conv=R:\n"
  "                 eps, gamma, zplus, alphabeta (default: dense=eps,conv=zplus,\n"
  "                 the EpsilonPlus composite); a layer type the net lacks is an error\n"
  "  --lrp-eps E    LRP eps stabiliser (default 1e-6; 0 gives LRP-0)\n"
  "  --gamma G      LRP gamma rule: w + G max(w, 0) (default 0.25)\n"
  "  --alpha A      LRP alpha-beta rule: alpha A >= 1, beta A - 1 (default 2)\n"
  "  --attention A  rollout: rollout (default: (A + I) / 2 per layer, rows\n"
  "                 normalised, multiplied over the layers up to --node) or raw\n"
  "                 (the attention of the --node layer, default the last)\n"
  "  --head-fusion F  rollout: heads fused by mean (default), max or min\n"
  "  --query Q      rollout: the map is query token Q's row (ViT class token: 0);\n"
  "                 default the mean of the rows\n"
  "  --reduce R     images with C > 1 channels: max (default, as Xplique) gives\n"
  "                 one value per pixel (max over channels, H x W map); none\n"
  "                 keeps one value per input feature\n";

static const char *usage =
  "usage: cerbere attribute NET --data FILE --method M [method options]\n"
  "                         [--norm inf|2|1 --eps E] [--rows A:B] [--json OUT] [--quiet]\n"
  "                         [--max-memory M]\n"
  "\n"
  "For each CSV row (label,x0,...), the attribution map of the target class\n"
  "score (the logit f_c), one value per input feature in the input's C order\n"
  "(per pixel for a multi-channel image, see --reduce).\n"
  "Methods: saliency |df_c/dx|; gradxinput x*df_c/dx; ig (Integrated Gradients,\n"
  "trapezoid rule); smoothgrad, vargrad, squaregrad (mean, variance, mean square\n"
  "of the gradient under Gaussian noise); occlusion (score drop, summed over the\n"
  "patches covering a feature); rise (random masks); gradcam, gradcampp (at a\n"
  "CONV node, upsampled to the input); eva (gain of the certified worst-case\n"
  "margin over the ball --norm/--eps, default inf 0.05, when a group is fixed);\n"
  "lrp (Layer-wise Relevance Propagation, --rule); deeplift (Rescale rule,\n"
  "baseline --baseline, sums to f_c(x) - f_c(baseline); no MaxPool);\n"
  "guidedbackprop (gradient with negative signals zeroed at activations);\n"
  "deconvnet (ReLU networks: max(signal, 0) at each ReLU); kernelshap (Shapley\n"
  "values of --patch P groups, default 1, against the baseline: exact\n"
  "enumeration for 12 groups or fewer, else --samples N (2000) paired\n"
  "coalitions drawn with --seed, batched forward passes); scorecam (maps of the\n"
  "--node CONV as input masks, weights the softmax of the masked class\n"
  "probabilities); opticam (mask weights optimised by --steps Adam steps on\n"
  "the masked logit); lime (weighted ridge fit on --samples random P x P\n"
  "superpixel masks); sobol (total-order Sobol indices of --grid cells,\n"
  "quasi-Monte-Carlo masks, Jansen estimator, Fel et al. 2021); hsic (HSIC of\n"
  "binary cell masks and the score, Novello et al. 2022); rollout (attention\n"
  "nets: attention rollout or raw attention over the heads, Abnar & Zuidema\n"
  "2020; one value per token, the same for every class; the attention maps\n"
  "are the Softmax nodes feeding a MatMul with values, --node names one).\n"
  "Perturbations set the masked part to --baseline.\n"
  "A flat input whose size is a square is treated as a one-channel image.\n"
  "\n"
  "%s"
  BATCH_DATA_HELP
  "  --norm P       EVA ball norm: inf (default), 2 or 1\n"
  "  --eps E        EVA ball radius (default 0.05)\n"
  "  --metrics      also per row: AverageStability (mean L2 distance to the maps\n"
  "                 at --neighbours K (10) points x + U([0, --stability-radius R (0.1)])^n),\n"
  "                 Deletion and Insertion AUC (16 steps, to/from --baseline),\n"
  "                 MuFidelity (200 random subsets of a 9x9 grid, fraction 0.2),\n"
  "                 sparseness (Gini index of |map|) and complexity (entropy of\n"
  "                 |map| / sum |map|)\n"
  "  --sanity       also per row, the randomisation sanity checks (Adebayo et al.\n"
  "                 2018): the map of a copy of the net whose last --sanity-layers N\n"
  "                 (default all) AFFINE/CONV layers are re-initialised (weights\n"
  "                 ~ N(0, s^2), s the layer's weight standard deviation, biases 0,\n"
  "                 from --seed), and the map of a random other class (seeded per\n"
  "                 row); each compared to the map by Spearman rank correlation and\n"
  "                 relative L2 change ||m' - m|| / ||m||\n"
  "  --rows A:B     only rows A..B-1 (0-based)\n"
  "  --json OUT     {command, version, net, data, method, settings, map_shape, n_samples,\n"
  "                 samples: [{index, label, target, score, map, metrics (with\n"
  "                 --metrics): {stability, deletion_auc, insertion_auc, mufidelity,\n"
  "                 sparseness, complexity}, sanity (with --sanity): {model_spearman,\n"
  "                 model_change, logit_class, logit_spearman, logit_change}}]}\n"
  "  --quiet        print only the summary line\n"
  "  --max-memory M cap the analysis' own arrays at M MiB (default: the machine's\n"
  "                 RAM): past it, error 'memory limit of M MiB reached', exit 5\n";

int attr_cli_option(const char *cmd, const char *a, const char *v, attr_cli *c)
{
  attr_opt *o = &c->o;
  char *e;
  long l;
  double d;
  if (!strcmp(a, "--method")) {
    if (!attr_method_parse(v, &o->method)) return report_usage(cmd, "unknown method '%s' (saliency, gradxinput, ig, smoothgrad, vargrad, squaregrad, occlusion, rise, gradcam, gradcampp, eva, lrp, deeplift, guidedbackprop, deconvnet, kernelshap, scorecam, opticam, lime, sobol, hsic, rollout)", v);
  } else if (!strcmp(a, "--attention")) {
    if (!strcmp(v, "rollout")) o->attn_raw = 0;
    else if (!strcmp(v, "raw")) o->attn_raw = 1;
    else return report_usage(cmd, "--attention wants rollout or raw, not '%s'", v);
  } else if (!strcmp(a, "--head-fusion")) {
    int f = -1;
    for (int k = 0; k < AF_COUNT; k++) if (!strcmp(v, attr_fusion_name[k])) f = k;
    if (f < 0) return report_usage(cmd, "--head-fusion wants mean, max or min, not '%s'", v);
    o->fusion = (attr_fusion)f;
  } else if (!strcmp(a, "--query")) {
    l = strtol(v, &e, 10);
    if (e == v || *e || l < 0 || l > 10000000) return report_usage(cmd, "--query wants a token index >= 0, not '%s'", v);
    o->query = (int)l;
  } else if (!strcmp(a, "--rule")) {
    char msg[160];
    if (!attr_lrp_rule_parse(v, o, msg, sizeof msg)) return report_usage(cmd, "--rule %s", msg);
  } else if (!strcmp(a, "--lrp-eps") || !strcmp(a, "--gamma") || !strcmp(a, "--alpha")) {
    d = strtod(v, &e);
    if (e == v || *e || !isfinite(d) || d < (a[2] == 'a' ? 1 : 0))
      return report_usage(cmd, a[2] == 'a' ? "--alpha wants a finite number >= 1, not '%s'" : "%s wants a finite number >= 0", a[2] == 'a' ? v : a);
    if (a[2] == 'a') o->lrp_alpha = d; else if (a[2] == 'g') o->lrp_gamma = d; else o->lrp_eps = d;
  } else if (!strcmp(a, "--lr") || !strcmp(a, "--kernel-width") || !strcmp(a, "--ridge")) {
    d = strtod(v, &e);
    if (e == v || *e || !isfinite(d) || d < 0 || (d == 0 && strcmp(a, "--ridge")))
      return report_usage(cmd, !strcmp(a, "--ridge") ? "--ridge wants a finite number >= 0, not '%s'" :
                               !strcmp(a, "--lr") ? "--lr wants a finite number > 0, not '%s'" : "--kernel-width wants a finite number > 0, not '%s'", v);
    if (!strcmp(a, "--lr")) o->lr = d; else if (!strcmp(a, "--ridge")) o->ridge = d; else o->kernel_width = d;
  } else if (!strcmp(a, "--grid")) {
    l = strtol(v, &e, 10);
    if (e == v || *e || l < 1 || l > 64) return report_usage(cmd, "--grid wants an integer in 1..64, not '%s'", v);
    o->grid = (int)l;
  } else if (!strcmp(a, "--target")) {
    if (!strcmp(v, "label")) o->target = -1;
    else if (!strcmp(v, "pred")) o->target = -2;
    else if ((l = strtol(v, &e, 10)) >= 0 && e != v && !*e && l < 1000000) o->target = (int)l;
    else return report_usage(cmd, "--target wants label, pred or a class index >= 0, not '%s'", v);
  } else if (!strcmp(a, "--baseline")) {
    if (strchr(v, ',')) {
      size_t k = 1;
      for (const char *p = v; *p; p++) k += *p == ',';
      cb_free(c->bvec);
      if (!(c->bvec = cb_alloc(k * sizeof *c->bvec))) return report_usage(cmd, "%s", "out of memory");
      c->bvec_n = 0;
      for (const char *p = v;;) {
        d = strtod(p, &e);
        if (e == p || !isfinite(d) || (*e && *e != ',')) return report_usage(cmd, "--baseline wants a number or a comma-separated list of numbers, not '%s'", v);
        c->bvec[c->bvec_n++] = d;
        if (!*e) break;
        p = e + 1;
      }
      o->baseline_vec = c->bvec;
    } else {
      d = strtod(v, &e);
      if (e == v || *e || !isfinite(d)) return report_usage(cmd, "--baseline wants a number or a comma-separated list of numbers, not '%s'", v);
      o->baseline = d;
    }
  } else if (!strcmp(a, "--sigma") || !strcmp(a, "--p")) {
    d = strtod(v, &e);
    if (e == v || *e || !isfinite(d) || d < 0 || (a[2] == 'p' && (d <= 0 || d > 1)))
      return report_usage(cmd, a[2] == 'p' ? "--p wants a probability in (0, 1], not '%s'" : "--sigma wants a finite number >= 0, not '%s'", v);
    if (a[2] == 'p') o->rise_p = d; else o->sigma = d;
  } else if (!strcmp(a, "--node")) o->node = v;
  else if (!strcmp(a, "--reduce")) {
    if (!strcmp(v, "max")) o->reduce = 1;
    else if (!strcmp(v, "none")) o->reduce = 0;
    else return report_usage(cmd, "--reduce wants max or none, not '%s'", v);
  }
  else if (!strcmp(a, "--steps") || !strcmp(a, "--baselines") || !strcmp(a, "--samples") || !strcmp(a, "--seed") ||
           !strcmp(a, "--patch") || !strcmp(a, "--stride") || !strcmp(a, "--cells")) {
    l = strtol(v, &e, 10);
    if (e == v || *e || l < (strcmp(a, "--seed") && strcmp(a, "--baselines") ? 1 : 0) || l > 10000000) {
      char fmt[80];
      snprintf(fmt, sizeof fmt, "%s wants an integer in %s..10^7, not '%%s'", a, strcmp(a, "--seed") && strcmp(a, "--baselines") ? "1" : "0");
      return report_usage(cmd, fmt, v);
    }
    if (!strcmp(a, "--steps")) o->steps = (int)l;
    else if (!strcmp(a, "--baselines")) o->n_baselines = (int)l;
    else if (!strcmp(a, "--samples")) o->samples = (int)l;
    else if (!strcmp(a, "--seed")) o->seed = (uint64_t)l;
    else if (!strcmp(a, "--patch")) o->patch = (int)l;
    else if (!strcmp(a, "--stride")) o->stride = (int)l;
    else o->rise_cells = (int)l;
  } else return 0;
  return -1;
}

cJSON *map_shape(const cb_net *net, size_t nm)
{
  int c, h, w;
  attr_image(net, &c, &h, &w);
  if (nm == cb_net_input_size(net)) return report_shape(&net->node[0].shape);
  if (nm != (size_t)h * (size_t)w) {   /* rollout: one value per token */
    int t = (int)nm;
    return cJSON_CreateIntArray(&t, 1);
  }
  int dims[2] = {h, w};
  return cJSON_CreateIntArray(dims, 2);
}

int attr_cli_check(const attr_cli *c, size_t n, cb_error *err)
{
  if (c->o.baseline_vec && c->bvec_n != n)
    return cb_error_set(err, CB_EUSAGE, "--baseline has %zu values, the network input has %zu", c->bvec_n, n);
  return CB_OK;
}

void attr_cli_free(attr_cli *c) { cb_free(c->bvec); c->bvec = NULL; }

typedef struct opts {
  const char *net, *data, *json;
  attr_cli ac;
  long r0, r1;
  int quiet, have_method, metrics, K, sanity, sanity_layers;
  double radius;
} opts;

static int parse(int argc, char **argv, opts *o)
{
  int rc, have_norm = 0, have_eps = 0;
  memset(o, 0, sizeof *o);
  attr_opt_init(&o->ac.o);
  o->r1 = -1;
  o->K = 10;
  o->radius = 0.1;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { printf(usage, attr_cli_help); return -1; }
    if (!strcmp(a, "--quiet")) { o->quiet = 1; continue; }
    if (!strcmp(a, "--metrics")) { o->metrics = 1; continue; }
    if (!strcmp(a, "--sanity")) { o->sanity = 1; continue; }
    if (a[0] != '-') {
      if (o->net) return report_usage("attribute", "unexpected argument %s", a);
      o->net = a;
      continue;
    }
    if (i + 1 >= argc) return report_usage("attribute", "%s needs a value", a);
    v = argv[++i];
    if (!strcmp(a, "--method")) o->have_method = 1;
    if ((rc = attr_cli_option("attribute", a, v, &o->ac)) > 0) return rc;
    if (rc < 0) continue;
    if (!strcmp(a, "--data")) o->data = v;
    else if (!strcmp(a, "--json")) o->json = v;
    else if (!strcmp(a, "--norm")) { have_norm = 1; if ((rc = arg_norm("attribute", v, &o->ac.o.norm))) return rc; }
    else if (!strcmp(a, "--eps")) { have_eps = 1; if ((rc = arg_eps("attribute", "--eps", v, &o->ac.o.eps))) return rc; }
    else if (!strcmp(a, "--rows")) { if ((rc = arg_rows("attribute", v, &o->r0, &o->r1))) return rc; }
    else if (!strcmp(a, "--max-memory")) { if ((rc = report_limit_option("attribute", a, v))) return rc; }
    else if (!strcmp(a, "--stability-radius")) { if ((rc = arg_eps("attribute", "--stability-radius", v, &o->radius))) return rc; }
    else if (!strcmp(a, "--radius"))   /* one meaning across commands: certify's radius search */
      return report_usage("attribute", "%s is certify's radius search; the AverageStability radius is --stability-radius R", a);
    else if (!strcmp(a, "--neighbours")) {
      char *e;
      long l = strtol(v, &e, 10);
      if (e == v || *e || l < 1 || l > 1000000) return report_usage("attribute", "--neighbours wants an integer >= 1, not '%s'", v);
      o->K = (int)l;
    } else if (!strcmp(a, "--sanity-layers")) {
      char *e;
      long l = strtol(v, &e, 10);
      if (e == v || *e || l < 1 || l > 1000000) return report_usage("attribute", "--sanity-layers wants an integer >= 1, not '%s'", v);
      o->sanity_layers = (int)l;
    } else return report_usage("attribute", "unknown option %s", a);
  }
  if (!o->net) return report_usage("attribute", "%s", "missing NET");
  if (!o->data) return report_usage("attribute", "%s", "missing --data FILE");
  if (!o->have_method) return report_usage("attribute", "%s", "missing --method");
  if ((have_norm || have_eps) && o->ac.o.method != AM_EVA) return report_usage("attribute", "%s", "--norm and --eps are options of --method eva");
  if (o->metrics && o->ac.o.method == AM_ROLLOUT)
    return report_usage("attribute", "%s", "--metrics perturb input features, and a rollout map has one value per token");
  return 0;
}

typedef struct row { double *map, score, met[6], san[4]; int target, status, logit; cb_error err; } row;

/* --metrics: stability, deletion, insertion, MuFidelity of one row's map. */
static int metrics(attr_ctx *a, const opts *o, const double *x, row *r, cb_error *err)
{
  int rc;
  if ((rc = attr_stability(a, x, r->target, r->map, o->radius, o->K, 2, a->opt.seed, &r->met[0], err)) != CB_OK) return rc;
  if ((rc = attr_deletion_auc(a, x, r->target, r->map, 0, 16, &r->met[1], err)) != CB_OK) return rc;
  if ((rc = attr_deletion_auc(a, x, r->target, r->map, 1, 16, &r->met[2], err)) != CB_OK) return rc;
  if ((rc = attr_mufidelity(a, x, r->target, r->map, 9, 0.2, 200, a->opt.seed, &r->met[3], err)) != CB_OK) return rc;
  r->met[4] = attr_sparseness(r->map, attr_map_size(a));
  r->met[5] = attr_complexity(r->map, attr_map_size(a));
  return CB_OK;
}

/* ||m1 - m0|| / ||m0|| (L2; the plain norm of m1 - m0 when m0 is zero). */
static double rel_change(const double *m0, const double *m1, size_t n)
{
  double d = 0, z = 0;
  for (size_t i = 0; i < n; i++) { d += (m1[i] - m0[i]) * (m1[i] - m0[i]); z += m0[i] * m0[i]; }
  return z > 0 ? sqrt(d / z) : sqrt(d);
}

/* --sanity: the randomised model's map, and a random other class's map. */
static int sanity(attr_ctx *a, attr_ctx *ar, const opts *o, const double *x, size_t k, row *r, cb_error *err)
{
  size_t nm = attr_map_size(a);
  double *m = cb_alloc(nm * sizeof *m);
  uint64_t s = a->opt.seed ^ (0xA5A5A5A5ull + (uint64_t)k * 0x9E3779B97F4A7C15ull);
  int rc;
  if (!m) return cb_error_set(err, CB_ENOMEM, "out of memory");
  if ((rc = attr_map(ar, x, r->target, m, err)) == CB_OK) {
    r->san[0] = attr_spearman(r->map, m, nm);
    r->san[1] = rel_change(r->map, m, nm);
    r->logit = (int)(attr_rng_next(&s) % (a->no - 1));
    if (r->logit >= r->target) r->logit++;
    if ((rc = attr_map(a, x, r->logit, m, err)) == CB_OK) {
      r->san[2] = attr_spearman(r->map, m, nm);
      r->san[3] = rel_change(r->map, m, nm);
    }
  }
  (void)o;
  cb_free(m);
  return rc;
}

static cJSON *settings_json(const attr_opt *o)
{
  cJSON *s = cJSON_CreateObject();
  cJSON_AddStringToObject(s, "target", o->target == -1 ? "label" : o->target == -2 ? "pred" : "class");
  if (o->target >= 0) cJSON_AddNumberToObject(s, "target_class", o->target);
  switch (o->method) {
  case AM_IG:
    cJSON_AddNumberToObject(s, "steps", o->steps);
    if (o->baseline_vec) cJSON_AddStringToObject(s, "baseline", "vector");
    else if (o->n_baselines > 0) { cJSON_AddNumberToObject(s, "baselines", o->n_baselines); cJSON_AddNumberToObject(s, "seed", (double)o->seed); }
    else cJSON_AddNumberToObject(s, "baseline", o->baseline);
    break;
  case AM_SMOOTHGRAD: case AM_VARGRAD: case AM_SQUAREGRAD:
    cJSON_AddNumberToObject(s, "samples", o->samples); cJSON_AddNumberToObject(s, "sigma", o->sigma);
    cJSON_AddNumberToObject(s, "seed", (double)o->seed);
    break;
  case AM_OCCLUSION:
    cJSON_AddNumberToObject(s, "patch", o->patch); cJSON_AddNumberToObject(s, "stride", o->stride);
    cJSON_AddNumberToObject(s, "value", o->baseline);
    break;
  case AM_RISE:
    cJSON_AddNumberToObject(s, "samples", o->samples); cJSON_AddNumberToObject(s, "p", o->rise_p);
    cJSON_AddNumberToObject(s, "cells", o->rise_cells); cJSON_AddNumberToObject(s, "seed", (double)o->seed);
    break;
  case AM_GRADCAM: case AM_GRADCAMPP: case AM_SCORECAM:
    if (o->node) cJSON_AddStringToObject(s, "node", o->node);
    break;
  case AM_OPTICAM:
    if (o->node) cJSON_AddStringToObject(s, "node", o->node);
    cJSON_AddNumberToObject(s, "steps", o->steps); cJSON_AddNumberToObject(s, "lr", o->lr);
    break;
  case AM_LIME: case AM_SOBOL: case AM_HSIC:
    if (o->baseline_vec) cJSON_AddStringToObject(s, "baseline", "vector");
    else cJSON_AddNumberToObject(s, "baseline", o->baseline);
    cJSON_AddNumberToObject(s, "samples", o->samples); cJSON_AddNumberToObject(s, "seed", (double)o->seed);
    if (o->method == AM_LIME) {
      cJSON_AddNumberToObject(s, "patch", o->patch); cJSON_AddNumberToObject(s, "kernel_width", o->kernel_width);
      cJSON_AddNumberToObject(s, "ridge", o->ridge);
    } else cJSON_AddNumberToObject(s, "grid", o->grid);
    break;
  case AM_EVA:
    cJSON_AddStringToObject(s, "norm", cb_norm_table[o->norm].name); cJSON_AddNumberToObject(s, "eps", o->eps);
    cJSON_AddNumberToObject(s, "patch", o->patch); cJSON_AddStringToObject(s, "bounds", "crown");
    break;
  case AM_LRP:
    cJSON_AddStringToObject(s, "rule_dense", attr_lrp_rule_name[o->lrp_rule[0]]);
    cJSON_AddStringToObject(s, "rule_conv", attr_lrp_rule_name[o->lrp_rule[1]]);
    cJSON_AddNumberToObject(s, "eps", o->lrp_eps); cJSON_AddNumberToObject(s, "gamma", o->lrp_gamma);
    cJSON_AddNumberToObject(s, "alpha", o->lrp_alpha); cJSON_AddNumberToObject(s, "beta", o->lrp_alpha - 1);
    break;
  case AM_DEEPLIFT:
    if (o->baseline_vec) cJSON_AddStringToObject(s, "baseline", "vector");
    else cJSON_AddNumberToObject(s, "baseline", o->baseline);
    break;
  case AM_KERNELSHAP:
    if (o->baseline_vec) cJSON_AddStringToObject(s, "baseline", "vector");
    else cJSON_AddNumberToObject(s, "baseline", o->baseline);
    cJSON_AddNumberToObject(s, "patch", o->patch); cJSON_AddNumberToObject(s, "samples", o->samples);
    cJSON_AddNumberToObject(s, "seed", (double)o->seed);
    break;
  case AM_ROLLOUT:
    cJSON_AddStringToObject(s, "attention", o->attn_raw ? "raw" : "rollout");
    cJSON_AddStringToObject(s, "head_fusion", attr_fusion_name[o->fusion]);
    if (o->query >= 0) cJSON_AddNumberToObject(s, "query", o->query); else cJSON_AddStringToObject(s, "query", "mean");
    if (o->node) cJSON_AddStringToObject(s, "node", o->node);
    break;
  case AM_SALIENCY: case AM_GRADXINPUT: case AM_GUIDEDBP: case AM_DECONVNET: case AM_COUNT: break;
  }
  return s;
}

/* The rows of the batch (batch_run): one attr_ctx per thread, a map per row. */
typedef struct run_ctx { const batch *b; const opts *o; const attr_ctx *probe; row *res; const cb_net *rnet; } run_ctx;
typedef struct thread_state { attr_ctx *a, *ar; } thread_state;   /* ar: on the randomised net (--sanity) */

static void thread_ctx_free(void *state)
{
  thread_state *t = state;
  if (!t) return;
  attr_free(t->a);
  attr_free(t->ar);
  cb_free(t);
}

static void *thread_ctx(void *ctx, cb_error *err)
{
  run_ctx *c = ctx;
  thread_state *t = cb_calloc(1, sizeof *t);
  if (!t) { cb_error_set(err, CB_ENOMEM, "out of memory"); return NULL; }
  if (!(t->a = attr_new(c->b->net, &c->probe->opt, err)) || (c->rnet && !(t->ar = attr_new(c->rnet, &c->probe->opt, err)))) {
    thread_ctx_free(t);
    return NULL;
  }
  return t;
}

static int row_map(void *ctx, void *state, size_t k, cb_error *err)
{
  run_ctx *c = ctx;
  thread_state *t = state;
  attr_ctx *a = t->a;
  row *r = &c->res[k];
  const double *x = batch_x(c->b, k);
  if ((r->status = attr_target(a, x, batch_label(c->b, k), &r->target, &r->err)) == CB_OK &&
      (r->status = attr_map(a, x, r->target, r->map, &r->err)) == CB_OK)
    r->status = attr_score(a, x, r->target, &r->score, NULL, &r->err);
  if (r->status == CB_OK && c->o->metrics) r->status = metrics(a, c->o, x, r, &r->err);
  if (r->status == CB_OK && c->o->sanity) r->status = sanity(a, t->ar, c->o, x, k, r, &r->err);
  if (r->status != CB_OK) *err = r->err;
  return r->status;
}

static cJSON *attribute_json(const batch *b, const opts *o, const attr_ctx *probe, const row *res, size_t nm)
{
  cJSON *top = batch_json_top(b, "attribute"), *samples;
  cJSON_AddStringToObject(top, "method", attr_method_name[o->ac.o.method]);
  cJSON_AddItemToObject(top, "settings", settings_json(&probe->opt));
  if (o->metrics) {
    cJSON *m = cJSON_AddObjectToObject(top, "metric_settings");
    cJSON_AddNumberToObject(m, "stability_radius", o->radius);
    cJSON_AddNumberToObject(m, "neighbours", o->K);
    cJSON_AddStringToObject(m, "stability_distance", "l2");
    cJSON_AddNumberToObject(m, "deletion_steps", 16);
    cJSON_AddNumberToObject(m, "mufidelity_grid", 9);
    cJSON_AddNumberToObject(m, "mufidelity_fraction", 0.2);
    cJSON_AddNumberToObject(m, "mufidelity_subsets", 200);
  }
  cJSON_AddItemToObject(top, "map_shape", map_shape(b->net, nm));
  cJSON_AddNumberToObject(top, "n_samples", (double)b->n);
  samples = cJSON_AddArrayToObject(top, "samples");
  for (size_t k = 0; k < b->n; k++) {
    cJSON *s = batch_json_sample(b, k);
    cJSON_AddNumberToObject(s, "target", res[k].target);
    cJSON_AddNumberToObject(s, "score", res[k].score);
    cJSON_AddItemToObject(s, "map", cJSON_CreateDoubleArray(res[k].map, (int)nm));
    if (o->metrics) {
      cJSON *m = cJSON_AddObjectToObject(s, "metrics");
      cJSON_AddNumberToObject(m, "stability", res[k].met[0]);
      cJSON_AddNumberToObject(m, "deletion_auc", res[k].met[1]);
      cJSON_AddNumberToObject(m, "insertion_auc", res[k].met[2]);
      cJSON_AddNumberToObject(m, "mufidelity", res[k].met[3]);
      cJSON_AddNumberToObject(m, "sparseness", res[k].met[4]);
      cJSON_AddNumberToObject(m, "complexity", res[k].met[5]);
    }
    if (o->sanity) {
      cJSON *m = cJSON_AddObjectToObject(s, "sanity");
      if (isnan(res[k].san[0])) cJSON_AddNullToObject(m, "model_spearman"); else cJSON_AddNumberToObject(m, "model_spearman", res[k].san[0]);
      cJSON_AddNumberToObject(m, "model_change", res[k].san[1]);
      cJSON_AddNumberToObject(m, "logit_class", res[k].logit);
      if (isnan(res[k].san[2])) cJSON_AddNullToObject(m, "logit_spearman"); else cJSON_AddNumberToObject(m, "logit_spearman", res[k].san[2]);
      cJSON_AddNumberToObject(m, "logit_change", res[k].san[3]);
    }
    cJSON_AddItemToArray(samples, s);
  }
  return top;
}

static void print_rows(const batch *b, const opts *o, const row *res, size_t nm)
{
  if (o->sanity && b->n) {   /* means over the rows with a defined rank correlation */
    double ms = 0, mc = 0, ls = 0, lc = 0;
    size_t nms = 0, nls = 0;
    for (size_t k = 0; k < b->n; k++) {
      if (!isnan(res[k].san[0])) { ms += res[k].san[0]; nms++; }
      if (!isnan(res[k].san[2])) { ls += res[k].san[2]; nls++; }
      mc += res[k].san[1] / (double)b->n;
      lc += res[k].san[3] / (double)b->n;
    }
    printf("sanity: randomised model: mean Spearman %.4f, mean relative change %.4f; random logit: mean Spearman %.4f, "
           "mean relative change %.4f\n", nms ? ms / (double)nms : NAN, mc, nls ? ls / (double)nls : NAN, lc);
  }
  for (size_t k = 0; k < b->n && !o->quiet; k++) {
    size_t im = 0;
    for (size_t i = 1; i < nm; i++) if (fabs(res[k].map[i]) > fabs(res[k].map[im])) im = i;
    printf("row %zu: label %d target %d score %.6g  max |map| %.6g at feature %zu\n", b->r0 + k, batch_label(b, k),
           res[k].target, res[k].score, b->n_in ? fabs(res[k].map[im]) : 0.0, im);
  }
  printf("%zu rows: %s maps of %zu values\n", b->n, attr_method_name[o->ac.o.method], nm);
  if (o->metrics && b->n) {
    double m[4] = {0};
    for (size_t k = 0; k < b->n; k++) for (int q = 0; q < 4; q++) m[q] += res[k].met[q] / (double)b->n;
    printf("mean AverageStability %.6g, deletion AUC %.6g, insertion AUC %.6g, MuFidelity %.4f\n", m[0], m[1], m[2], m[3]);
    {
      double sp = 0, cx = 0;
      for (size_t k = 0; k < b->n; k++) { sp += res[k].met[4] / (double)b->n; cx += res[k].met[5] / (double)b->n; }
      printf("mean sparseness (Gini) %.4f, complexity (entropy) %.4f\n", sp, cx);
    }
  }
}

static int attribute_cmd(const opts *o, cb_error *err)
{
  batch b = {0};
  row *res = NULL;
  cJSON *top = NULL;
  attr_ctx *probe = NULL;
  cb_net *rnet = NULL;
  batch_ball ball = {o->ac.o.norm, o->ac.o.eps, 0, 0, 0};
  batch_rows sel = {o->r0, o->r1, 0, o->ac.o.method == AM_EVA ? &ball : NULL};
  size_t nm;
  int rc;
  if ((rc = batch_load_net(&b, o->net, err)) != CB_OK) goto out;
  if ((rc = attr_cli_check(&o->ac, b.n_in, err)) != CB_OK) goto out;
  if (o->sanity) {   /* the randomised copy: loaded again, then re-initialised */
    int done;
    if ((rc = cb_net_load(o->net, &rnet, err)) != CB_OK) goto out;
    if (attr_randomise_net(rnet, o->sanity_layers, o->ac.o.seed, &done) != CB_OK) {
      rc = cb_error_set(err, CB_EUNSUP, "%s: --sanity: the network has no AFFINE or CONV layer to re-initialise", o->net);
      goto out;
    }
    (void)done;
  }
  if ((rc = batch_load_rows(&b, o->data, &sel, err)) != CB_OK) goto out;
  if (!(probe = attr_new(b.net, &o->ac.o, err))) { rc = err->status; goto out; }   /* option errors before any work */
  nm = attr_map_size(probe);
  if (!(res = cb_calloc(b.n + 1, sizeof *res))) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  for (size_t k = 0; k < b.n; k++)
    if (!(res[k].map = cb_calloc(b.n_in > nm ? b.n_in : nm, sizeof(double)))) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  {
    run_ctx c = {&b, o, probe, res, rnet};
    batch_loop L = {.row = row_map, .thread_new = thread_ctx, .thread_free = thread_ctx_free, .ctx = &c, .name_row = 1};
    if ((rc = batch_run(&b, &L, err)) != CB_OK) goto out;
  }
  if (o->json && (rc = report_write_json(o->json, top = attribute_json(&b, o, probe, res, nm), err)) != CB_OK) goto out;
  print_rows(&b, o, res, nm);
out:
  cJSON_Delete(top);
  if (res) for (size_t k = 0; k < b.n; k++) cb_free(res[k].map);
  cb_free(res);
  attr_free(probe);
  cb_net_free(rnet);
  batch_close(&b);
  return rc;
}

int cmd_attribute(int argc, char **argv)
{
  opts o;
  cb_error err = {0};
  int rc = parse(argc, argv, &o);
  if (rc == 0 && attribute_cmd(&o, &err) != CB_OK) rc = report_fail(&err);
  attr_cli_free(&o.ac);
  return rc < 0 ? 0 : rc;
}
