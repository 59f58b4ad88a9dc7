/*
** `cerbere check NET DIR/certificates.json [--data FILE]`: the per-sample
** proofs that `cerbere certify --proof` writes (check.h).
**
** A verified sample claims: for every x of its set S = {x : |x - row|_p
** <= eps}, p = inf, 2 or 1 (cut by the clip box [LO, HI]^n when the run had
** --clip),
** f_label(x) - f_j(x) > 0 for every class j != label.  Its proof is a
** property file and a proof file (docs/proof-format.md) under DIR.  The
** checker trusts neither the certifier nor the property file: it re-reads
** the row (center and label) from the data with the readers of src/, takes
** eps and the clip box from the certificate's settings, and accepts the
** sample only when
**   1. the data's label is the certificate's;
**   2. the property's one input box contains S, shown exactly: lo_i <=
**      LO, or RU(lo_i + eps) <= row_i (then lo_i + eps <= row_i in real
**      arithmetic), and the same on the upper side;
**   3. its conjunctions are exactly one row Y_label - Y_j <= b with b >= 0
**      for each j != label (a refutation gives Y_label - Y_j > b >= 0);
**   4. the proof names NET and the property file by SHA-256, the raw input
**      space, and checks valid (proof_check) against them.
** The first sample that fails is named with the reason.  For p = 2 or 1
** the same box test suffices: |x_i - row_i| <= |x - row|_p <= eps, so the
** L-inf ball of radius eps (which condition 2 shows inside the box)
** contains the Lp ball; the proof is of the box, a superset, so it may be
** missing for a row certify verified with its Lp bound (certify then
** records why), never wrong.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "check.h"
#include "net.h"
#include "proofchk.h"
#include "round.h"
#include "vnnlib.h"

/* DIR of the certificates file joined with a relative path. */
static void join(char *out, size_t n, const char *json_path, const char *rel)
{
  const char *sl = strrchr(json_path, '/');
  if (rel[0] == '/' || !sl) snprintf(out, n, "%s", rel);
  else snprintf(out, n, "%.*s/%s", (int)(sl - json_path), json_path, rel);
}

/* Conditions 1-3 for one sample; 1 ok, else 0 and why. */
static int claim_ok(const vnn_spec *sp, const double *x, size_t nx, size_t ny, int label, double eps, int clip, double clo,
                    double chi, char *why, size_t nw)
{
  const vnn_box *B = &sp->box[0];
  unsigned char *seen;
  int ok = 1;
  if (sp->nx != nx || sp->ny != ny || sp->n_box != 1) {
    snprintf(why, nw, "the property has %zu inputs, %zu outputs and %zu boxes; the claim needs %zu, %zu and 1", sp->nx, sp->ny, sp->n_box,
             nx, ny);
    return 0;
  }
  for (size_t i = 0; i < nx; i++) {
    int lo_ok = (clip && B->lo[i] <= clo) || round_add_ru(B->lo[i], eps) <= x[i];
    int hi_ok = (clip && B->hi[i] >= chi) || round_add_rd(B->hi[i], -eps) >= x[i];
    if (!lo_ok || !hi_ok) {
      snprintf(why, nw, "the property's box [%.17g, %.17g] in input %zu does not contain the sample's set (row value %.17g, eps %.17g%s)",
               B->lo[i], B->hi[i], i, x[i], eps, clip ? ", clipped" : "");
      return 0;
    }
  }
  if (B->n_conj != ny - 1) {
    snprintf(why, nw, "the property has %zu output conjunctions, the claim %zu (one per class j != label %d)", B->n_conj, ny - 1, label);
    return 0;
  }
  if (!(seen = calloc(ny, 1))) { snprintf(why, nw, "out of memory"); return 0; }
  for (size_t c = 0; c < B->n_conj && ok; c++) {
    const vnn_conj *k = &B->conj[c];
    long j = -1;
    if (k->m != 1 || k->A[label] != 1 || !(k->b_up[0] >= 0)) ok = 0;
    for (size_t t = 0; t < ny && ok; t++) {
      if ((int)t == label || k->A[t] == 0) continue;
      if (k->A[t] != -1 || j >= 0) ok = 0;
      j = (long)t;
    }
    if (ok && (j < 0 || seen[j])) ok = 0;
    if (ok) seen[j] = 1;
    else snprintf(why, nw, "conjunction %zu (line %d) of the property is not one row Y_%d - Y_j <= b, b >= 0, for a new j", c, k->line, label);
  }
  free(seen);
  return ok;
}

/* Condition 4: the proof file against NET and the property; 1 valid. */
static int proof_ok(const cb_net *net, const char *net_sha, const vnn_spec *sp, const char *prop_path, const char *proof_path,
                    char *why, size_t nw)
{
  char hp[65] = "", *text;
  size_t len = 0;
  proof *pf = NULL;
  pchk *P = NULL;
  cb_error err = {0};
  long leaves = 0;
  int ok = 0;
  if (!(text = check_read_file(proof_path, &len, &err))) { snprintf(why, nw, "%s", err.msg); return 0; }
  if (proof_parse(text, len, &pf, &err) != CB_OK) snprintf(why, nw, "%.300s: %.600s", proof_path, err.msg);
  else if (!proof_sha256_file(prop_path, hp)) snprintf(why, nw, "%.300s: cannot read it to hash it", prop_path);
  else if (strcmp(pf->net_sha, net_sha)) snprintf(why, nw, "%.300s is a proof about another network (SHA-256 %s)", proof_path, pf->net_sha);
  else if (strcmp(pf->prop_sha, hp)) snprintf(why, nw, "%.300s is a proof of another property than %.300s", proof_path, prop_path);
  else if (pf->input_space == 1) snprintf(why, nw, "%.300s is about the normalized input space; certify's rows are raw", proof_path);
  else if (pchk_new(net, sp, &P, &err) != CB_OK) snprintf(why, nw, "%s", err.msg);
  else {
    int r = proof_check(P, pf, why, nw, &leaves);
    if (r < 0) snprintf(why, nw, "out of memory");
    ok = r == 1;
  }
  pchk_free(P);
  proof_free(pf);
  cb_free(text);
  return ok;
}

static const cJSON *get(const cJSON *o, const char *k) { return o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL; }

int check_certs(const char *net_path, const char *json_path, const char *data_override)
{
  cb_error err = {0};
  cb_net *net = NULL;
  cb_data *d = NULL;
  cJSON *top = NULL;
  char *text = NULL, hn[65] = "", why[1200] = "", pp[4200], vp[4200];
  size_t len = 0, nx, ny;
  int code = 3, checked = 0, noproof = 0, clip = 0;
  double eps, clo = 0, chi = 0, scale = 1;
  const cJSON *set, *tm, *smp, *s, *cl;
  const char *data, *labels = NULL;
  if (!(text = check_read_file(json_path, &len, &err))) { fprintf(stderr, "cerbere check: %s\n", err.msg); goto out; }
  if (!(top = cJSON_ParseWithLength(text, len)) || !cJSON_IsObject(top)) {
    fprintf(stderr, "cerbere check: %s: not a JSON object (certify's certificates.json)\n", json_path);
    goto out;
  }
  set = get(top, "settings");
  tm = get(set, "threat_model");
  smp = get(top, "samples");
  if (!cJSON_IsString(get(set, "norm")) || !cJSON_IsNumber(get(set, "eps")) || !cJSON_IsArray(smp) || !cJSON_IsString(get(top, "data"))) {
    fprintf(stderr, "cerbere check: %s: no settings.norm, settings.eps, data or samples: not a certificates.json of cerbere certify\n",
            json_path);
    goto out;
  }
  if (strcmp(get(set, "norm")->valuestring, "inf") && strcmp(get(set, "norm")->valuestring, "2") &&
      strcmp(get(set, "norm")->valuestring, "1")) {   /* an L2 or L1 ball lies in the L-inf ball of its radius: condition 2 holds for it */
    fprintf(stderr, "cerbere check: %s: norm L%.20s: per-sample proofs are of L-inf, L2 and L1 balls only\n", json_path,
            get(set, "norm")->valuestring);
    goto out;
  }
  if ((tm && ((get(tm, "box") && !cJSON_IsNull(get(tm, "box"))) || (get(tm, "eps_per_feature") && !cJSON_IsNull(get(tm, "eps_per_feature"))) ||
              (get(tm, "target") && !cJSON_IsNull(get(tm, "target"))))) || get(top, "normalisation")) {
    fprintf(stderr, "cerbere check: %s: a run with --box, --eps-per-feature, --target or --mean/--std: its per-sample claims are not "
            "checked here\n", json_path);
    goto out;
  }
  eps = get(set, "eps")->valuedouble;
  if ((cl = get(set, "clip")) && cJSON_IsArray(cl)) {
    if (cJSON_GetArraySize(cl) != 2 || !cJSON_IsNumber(cJSON_GetArrayItem(cl, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(cl, 1))) {
      fprintf(stderr, "cerbere check: %s: settings.clip is not [LO, HI]\n", json_path);
      goto out;
    }
    clip = 1;
    clo = cJSON_GetArrayItem(cl, 0)->valuedouble;
    chi = cJSON_GetArrayItem(cl, 1)->valuedouble;
  }
  if (!(eps >= 0) || !isfinite(eps)) { fprintf(stderr, "cerbere check: %s: settings.eps is not a finite number >= 0\n", json_path); goto out; }
  data = data_override ? data_override : get(top, "data")->valuestring;
  if (cJSON_IsString(get(top, "labels"))) labels = get(top, "labels")->valuestring;
  if (cJSON_IsNumber(get(top, "scale"))) scale = get(top, "scale")->valuedouble;
  if (cb_net_load(net_path, &net, &err) != CB_OK) { fprintf(stderr, "cerbere check: %s\n", err.msg); goto out; }
  nx = cb_net_input_size(net);
  ny = cb_net_output_size(net);
  if (cb_data_load(data, labels, nx, scale, &d, &err) != CB_OK) { fprintf(stderr, "cerbere check: %s\n", err.msg); goto out; }
  if (!proof_sha256_file(net_path, hn)) { fprintf(stderr, "cerbere check: %s: cannot read it to hash it\n", net_path); goto out; }
  code = 0;
  cJSON_ArrayForEach(s, smp) {
    const cJSON *pr = get(s, "proof"), *ix = get(s, "index"), *lb = get(s, "label"), *vd = get(s, "verdict");
    vnn_spec *sp = NULL;
    size_t row;
    int label, ok;
    if (cJSON_IsString(vd) && !strcmp(vd->valuestring, "verified") && (!pr || get(pr, "error"))) noproof++;
    if (!pr || get(pr, "error")) continue;
    if (!cJSON_IsNumber(ix) || ix->valuedouble < 0 || ix->valuedouble != floor(ix->valuedouble) || ix->valuedouble >= (double)cb_data_rows(d) ||
        !cJSON_IsNumber(lb) || !cJSON_IsString(get(pr, "file")) || !cJSON_IsString(get(pr, "property"))) {
      printf("invalid: a sample with a proof has no index within %s's %zu rows, no label, or no proof.file/proof.property\n", data,
             cb_data_rows(d));
      code = 1;
      break;
    }
    row = (size_t)ix->valuedouble;
    label = lb->valueint;
    if (!cJSON_IsString(vd) || strcmp(vd->valuestring, "verified")) {
      printf("invalid: sample row %zu: a proof for a verdict other than verified\n", row);
      code = 1;
      break;
    }
    if (cb_data_label(d, row) != label || label < 0 || (size_t)label >= ny) {
      printf("invalid: sample row %zu: label %d in the certificate, %d in %s\n", row, label, cb_data_label(d, row), data);
      code = 1;
      break;
    }
    join(vp, sizeof vp, json_path, get(pr, "property")->valuestring);
    join(pp, sizeof pp, json_path, get(pr, "file")->valuestring);
    if (vnn_parse(vp, &sp, &err) != CB_OK) { printf("invalid: sample row %zu: %s\n", row, err.msg); code = 1; break; }
    ok = claim_ok(sp, cb_data_x(d, row), nx, ny, label, eps, clip, clo, chi, why, sizeof why) &&
         proof_ok(net, hn, sp, vp, pp, why, sizeof why);
    vnn_free(sp);
    if (!ok) { printf("invalid: sample row %zu: %s\n", row, why); code = 1; break; }
    checked++;
  }
  if (code == 0 && !checked) {
    printf("invalid: %s: no sample carries a proof (cerbere certify --proof writes them)\n", json_path);
    code = 1;
  }
  if (code == 0 && noproof)   /* never a bare "valid" when some verified verdicts rest on cerbere alone */
    printf("valid, partial: %d verified samples carry no proof\n# %d sample proofs checked in exact arithmetic (L%s ball, eps %.17g%s, "
           "through its enclosing box); the %d verified samples without a proof are not covered by this check\n", noproof, checked,
           get(set, "norm")->valuestring, eps, clip ? ", clipped" : "", noproof);
  else if (code == 0)
    printf("valid\n# %d sample proofs checked in exact arithmetic (L%s ball, eps %.17g%s, through its "
           "enclosing box); every verified sample carries one\n", checked, get(set, "norm")->valuestring, eps, clip ? ", clipped" : "");
out:
  cJSON_Delete(top);
  cb_free(text);
  cb_data_free(d);
  cb_net_free(net);
  return code;
}
