/*
** report.html: one self-contained page (inline CSS and SVG, no script, no
** font or image fetched from anywhere), rendered from report.json alone so
** every number on the page is a number of the JSON.  Long sample tables are
** split into collapsible <details> pages of 100 rows (no JavaScript needed).
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "report_doc.h"

typedef struct sb { char *s; size_t n, cap; int oom; } sb;

static void put(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sb *b, const char *fmt, ...)
{
  va_list ap;
  int k;
  if (b->oom) return;
  for (;;) {
    va_start(ap, fmt);
    k = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (k < 0) { b->oom = 1; return; }
    if ((size_t)k < b->cap - b->n) { b->n += (size_t)k; return; }
    size_t nc = 2 * b->cap + (size_t)k + 1;
    char *ns = cb_alloc(nc);
    if (!ns) { b->oom = 1; return; }
    memcpy(ns, b->s, b->n + 1);
    cb_free(b->s);
    b->s = ns;
    b->cap = nc;
  }
}

/* HTML-escaped text. */
static void esc(sb *b, const char *t)
{
  for (; t && *t; t++) {
    switch (*t) {
    case '<': put(b, "&lt;"); break;
    case '>': put(b, "&gt;"); break;
    case '&': put(b, "&amp;"); break;
    case '"': put(b, "&quot;"); break;
    default: put(b, "%c", *t);
    }
  }
}

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }
static double num(const cJSON *o, const char *k) { const cJSON *v = get(o, k); return cJSON_IsNumber(v) ? v->valuedouble : NAN; }
static const char *str(const cJSON *o, const char *k) { const cJSON *v = get(o, k); return cJSON_IsString(v) ? v->valuestring : ""; }

/* A number as the page shows it (%.6g; "none" for null/NaN). */
static void pnum(sb *b, double v)
{
  if (isnan(v)) put(b, "&ndash;");
  else if (isinf(v)) put(b, "&infin;");
  else put(b, "%.6g", v);
}

static const char *css =
  "body{font:14px/1.45 sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 12px}"
  "h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:36px}"
  "h3{font-size:15px;margin:20px 0 6px}table{border-collapse:collapse;margin:6px 0}"
  "td,th{border:1px solid #ddd;padding:2px 8px;text-align:right}th{background:#f4f4f4}"
  "td.l,th.l{text-align:left}.muted{color:#777}.verified{color:#1a7f37}.falsified{color:#b42318}.unknown{color:#9a6700}"
  ".head{display:flex;gap:14px;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}"
  ".card b{display:block;font-size:22px}pre{background:#f6f8fa;padding:8px;overflow-x:auto}"
  "details{margin:4px 0}summary{cursor:pointer}.grid{display:flex;flex-wrap:wrap;gap:12px}"
  ".fig{border:1px solid #eee;padding:4px}.fig div{font-size:12px;text-align:center}"
  /* print and PDF: every collapsed table shown (no script needed), no page break inside a row */
  ".audit{border:1px solid #bbb;border-left:4px solid #1a7f37;padding:8px 12px;margin:10px 0;background:#fafafa}"
  "@media print{details::details-content{content-visibility:visible;display:block}details>*{display:block}"
  "summary{font-weight:bold;list-style:none}tr{break-inside:avoid}body{max-width:none;margin:0}"
  "pre,td{white-space:pre-wrap;overflow-wrap:anywhere}}";   /* paper does not scroll: wrap the reproduce line */

static int is_image(const cJSON *net, int *h, int *w)
{
  const cJSON *sh = get(net, "input_shape");
  int r = cJSON_GetArraySize(sh);
  double n = num(net, "input_size");
  if (r >= 2) {
    *h = (int)cJSON_GetArrayItem(sh, r - 2)->valuedouble;
    *w = (int)cJSON_GetArrayItem(sh, r - 1)->valuedouble;
    if (*h > 1 && *w > 1 && *h * *w <= 4096 && (double)(*h * *w) <= n) return 1;
  }
  double s = floor(sqrt(n) + 0.5);
  if (s > 1 && s * s == n && n <= 4096) { *h = *w = (int)s; return 1; }
  return 0;
}

/* Heatmap of the first h*w values of v as an SVG (grey, or blue-red diverging);
   grey maps span [lo, hi] (NAN: the map's own range). */
static void heatmap_in(sb *b, const cJSON *v, const cJSON *base, int h, int w, int diverging, const char *cap, double lo, double hi)
{
  double m = 0;
  int cell = h * w > 400 ? 4 : 12, own = isnan(lo);
  if (own) { lo = HUGE_VAL; hi = -HUGE_VAL; }
  for (int k = 0; k < h * w; k++) {
    double x = cJSON_GetArrayItem(v, k)->valuedouble - (base ? cJSON_GetArrayItem(base, k)->valuedouble : 0);
    if (own) { lo = fmin(lo, x); hi = fmax(hi, x); }
    m = fmax(m, fabs(x));
  }
  put(b, "<div class=fig><svg width=%d height=%d viewBox='0 0 %d %d'>", w * cell, h * cell, w * cell, h * cell);
  for (int i = 0; i < h; i++)
    for (int j = 0; j < w; j++) {
      double x = cJSON_GetArrayItem(v, i * w + j)->valuedouble - (base ? cJSON_GetArrayItem(base, i * w + j)->valuedouble : 0);
      int r, g, bl;
      if (diverging) {
        double t = m > 0 ? x / m : 0;
        r = t > 0 ? 255 : (int)(255 * (1 + t)); bl = t < 0 ? 255 : (int)(255 * (1 - t)); g = (int)(255 * (1 - fabs(t)));
      } else {
        double t = hi > lo ? (x - lo) / (hi - lo) : 0;
        r = g = bl = (int)(255 * (1 - t));
      }
      put(b, "<rect x=%d y=%d width=%d height=%d fill='rgb(%d,%d,%d)'/>", j * cell, i * cell, cell, cell, r, g, bl);
    }
  put(b, "</svg><div>%s", cap);
  if (diverging) { put(b, " (max |d| "); pnum(b, m); put(b, ")"); }
  put(b, "</div></div>");
}

static void heatmap(sb *b, const cJSON *v, const cJSON *base, int h, int w, int diverging, const char *cap)
{
  heatmap_in(b, v, base, h, w, diverging, cap, NAN, NAN);
}

/* Smallest and largest of the first n values of a and c. */
static void range2(const cJSON *a, const cJSON *c, int n, double *lo, double *hi)
{
  *lo = HUGE_VAL; *hi = -HUGE_VAL;
  for (int k = 0; k < n; k++) {
    *lo = fmin(*lo, fmin(cJSON_GetArrayItem(a, k)->valuedouble, cJSON_GetArrayItem(c, k)->valuedouble));
    *hi = fmax(*hi, fmax(cJSON_GetArrayItem(a, k)->valuedouble, cJSON_GetArrayItem(c, k)->valuedouble));
  }
}

/* Certified accuracy vs eps (and the attack upper curve) as an SVG step plot. */
static void curve(sb *b, const cJSON *run, int id)
{
  const cJSON *samples = get(run, "samples"), *s, *set = get(run, "settings");
  int n = cJSON_GetArraySize(samples), W = 520, H = 240, L = 50, T = 12, PW = 450, PH = 190;
  double eps = num(set, "eps"), xmax = 0;
  cJSON_ArrayForEach(s, samples) {
    double c = num(s, "certified_radius"), a = num(s, "attack_radius");
    if (isfinite(c)) xmax = fmax(xmax, c);
    if (isfinite(a)) xmax = fmax(xmax, a);
  }
  xmax = fmax(xmax * 1.05, eps * 1.5);
  if (!(xmax > 0)) xmax = 1;
  put(b, "<svg id=curve-%d width=%d height=%d viewBox='0 0 %d %d' role=img aria-label='certified accuracy versus eps'>", id, W, H, W, H);
  put(b, "<rect x=%d y=%d width=%d height=%d fill='#fff' stroke='#999'/>", L, T, PW, PH);
  for (int k = 0; k <= 4; k++) {
    put(b, "<line x1=%d x2=%d y1=%d y2=%d stroke='#eee'/><text x=%d y=%d font-size=10 text-anchor=end>%.2f</text>",
        L, L + PW, T + PH - PH * k / 4, T + PH - PH * k / 4, L - 4, T + PH - PH * k / 4 + 3, k / 4.0);
    put(b, "<text x=%d y=%d font-size=10 text-anchor=middle>%.3g</text>", L + PW * k / 4, T + PH + 14, xmax * k / 4);
  }
  for (int pass = 0; pass < 2; pass++) {   /* 0: certified radius >= e; 1: attack radius > e */
    put(b, "<polyline fill=none stroke='%s' stroke-width=2 points='", pass ? "#b42318" : "#1a7f37");
    for (int k = 0; k <= 200; k++) {
      double e = xmax * k / 200;
      int c = 0;
      cJSON_ArrayForEach(s, samples) {
        double v = num(s, pass ? "attack_radius" : "certified_radius");
        if (pass && isnan(v)) v = INFINITY;   /* null: no counterexample found at any radius */
        if (pass ? v > e : v >= e) c++;
      }
      put(b, "%.1f,%.1f ", L + PW * e / xmax, T + PH - PH * (n ? (double)c / n : 0));
    }
    put(b, "'/>");
  }
  put(b, "<line x1=%.1f x2=%.1f y1=%d y2=%d stroke='#555' stroke-dasharray='4 3'/>", L + PW * eps / xmax, L + PW * eps / xmax, T, T + PH);
  put(b, "<text x=%d y=%d font-size=11 text-anchor=middle>eps (%s norm)</text>", L + PW / 2, H - 4, str(set, "norm"));
  put(b, "<text x=%d y=%d font-size=11 fill='#1a7f37'>certified accuracy</text>", L + PW - 150, T + 14);
  put(b, "<text x=%d y=%d font-size=11 fill='#b42318'>not attacked (upper bound)</text>", L + PW - 150, T + 28);
  put(b, "</svg>");
}

/* Logit intervals of one sample: a bar per class, the clean logit as a dot. */
static void logit_plot(sb *b, const cJSON *s)
{
  const cJSON *lb = get(s, "logit_lb"), *ub = get(s, "logit_ub"), *lg = get(s, "logits");
  int n = cJSON_GetArraySize(lg), label = (int)num(s, "label"), W = 240, rowh = 14;
  double lo = HUGE_VAL, hi = -HUGE_VAL;
  if (!cJSON_IsArray(lb) || !cJSON_IsArray(ub) || n == 0 || n > 100) return;
  for (int k = 0; k < n; k++) { lo = fmin(lo, cJSON_GetArrayItem(lb, k)->valuedouble); hi = fmax(hi, cJSON_GetArrayItem(ub, k)->valuedouble); }
  if (!(hi > lo)) hi = lo + 1;
  put(b, "<div class=fig><svg width=%d height=%d>", W + 30, n * rowh + 4);
  for (int k = 0; k < n; k++) {
    double l = cJSON_GetArrayItem(lb, k)->valuedouble, u = cJSON_GetArrayItem(ub, k)->valuedouble, v = cJSON_GetArrayItem(lg, k)->valuedouble;
    double x0 = 26 + W * (l - lo) / (hi - lo), x1 = 26 + W * (u - lo) / (hi - lo), xv = 26 + W * (v - lo) / (hi - lo);
    put(b, "<text x=0 y=%d font-size=10>%d</text><rect x=%.1f y=%d width=%.1f height=9 fill='%s'/><circle cx=%.1f cy=%d r=2.5 fill='#000'/>",
        k * rowh + 11, k, x0, k * rowh + 3, fmax(x1 - x0, 1), k == label ? "#1a7f37" : "#8aa4c8", xv, k * rowh + 7);
  }
  put(b, "</svg><div>#%d label %d, %s [", (int)num(s, "index"), label, str(s, "verdict"));
  pnum(b, lo); put(b, ", "); pnum(b, hi); put(b, "]</div></div>");
}

static double min_margin(const cJSON *s)
{
  const cJSON *m = get(s, "margin_lb"), *e;
  double v = NAN;
  cJSON_ArrayForEach(e, m) v = isnan(v) ? e->valuedouble : fmin(v, e->valuedouble);
  return v;
}

static void sample_table(sb *b, const cJSON *run, const char *verdict)
{
  const cJSON *s;
  int total = 0, k = 0;
  cJSON_ArrayForEach(s, get(run, "samples")) total += !strcmp(str(s, "verdict"), verdict);
  if (!total) return;
  put(b, "<details%s><summary><span class=%s>%s</span>: %d samples</summary>", strcmp(verdict, "verified") ? " open" : "", verdict, verdict, total);
  cJSON_ArrayForEach(s, get(run, "samples")) {
    if (strcmp(str(s, "verdict"), verdict)) continue;
    if (k % 100 == 0) {
      if (k) put(b, "</table></details>");
      put(b, "<details%s><summary>rows %d&ndash;%d</summary><table><tr><th>index</th><th>label</th><th>pred</th><th class=l>verdict</th>"
             "<th class=l>decided by</th><th>min margin lb</th><th>certified radius</th><th>attack radius</th><th class=l>reason</th></tr>",
          k == 0 ? " open" : "", k + 1, k + 100 < total ? k + 100 : total);
    }
    put(b, "<tr class=sample-row><td>%d</td><td>%d</td><td>%d</td><td class='l %s'>%s</td><td class=l>", (int)num(s, "index"),
        (int)num(s, "label"), (int)num(s, "pred"), verdict, verdict);
    esc(b, cJSON_IsString(get(s, "decided_by")) ? str(s, "decided_by") : "");
    put(b, "</td><td>"); pnum(b, min_margin(s));
    put(b, "</td><td>"); pnum(b, num(s, "certified_radius"));
    put(b, "</td><td>"); pnum(b, cJSON_IsNull(get(s, "attack_radius")) && cJSON_IsNumber(get(s, "certified_radius")) ? INFINITY : num(s, "attack_radius"));
    put(b, "</td><td class=l>"); esc(b, str(s, "reason")); put(b, "</td></tr>");
    k++;
  }
  put(b, "</table></details></details>");
}

/* Every setting of the run, as stored (methods, attack strength, timeouts, seed...). */
static void settings_table(sb *b, const cJSON *set)
{
  const cJSON *s;
  put(b, "<details class=settings><summary>Settings</summary><table>");
  cJSON_ArrayForEach(s, set) {
    char *t = cJSON_PrintUnformatted(s);
    put(b, "<tr><th class=l>"); esc(b, s->string); put(b, "</th><td class=l>"); esc(b, t ? t : "?"); put(b, "</td></tr>");
    cJSON_free(t);
  }
  put(b, "</table></details>");
}

/* The command as run, from its directory: every relative path resolves. */
static void reproduce(sb *b, const cJSON *run)
{
  put(b, "<h3>Reproduce</h3><pre>");
  if (*str(run, "cwd")) { put(b, "cd "); esc(b, str(run, "cwd")); put(b, " &amp;&amp; "); }
  esc(b, str(run, "command_line"));
  put(b, "</pre>");
}

static void run_section(sb *b, const cJSON *run, int id)
{
  const cJSON *net = get(run, "network"), *set = get(run, "settings"), *sum = get(run, "summary"), *s, *lip = get(run, "lipschitz");
  const cJSON *data = get(run, "data"), *tm = get(set, "threat_model");
  int h, w, shown = 0, regression = cJSON_IsNumber(get(set, "tol")), target = cJSON_IsNumber(get(tm, "target")) ? (int)num(tm, "target") : -1;
  int weighted = cJSON_IsString(get(tm, "eps_per_feature")), boxed = cJSON_IsObject(get(tm, "box"));
  put(b, "<h2 id=run-%d>%s: ", id, str(run, "command"));
  esc(b, str(net, "file"));
  put(b, " &mdash; L%s ball, eps ", str(set, "norm")); pnum(b, num(set, "eps"));
  if (cJSON_IsArray(get(set, "clip"))) { put(b, ", clipped to ["); pnum(b, cJSON_GetArrayItem(get(set, "clip"), 0)->valuedouble); put(b, ", "); pnum(b, cJSON_GetArrayItem(get(set, "clip"), 1)->valuedouble); put(b, "]"); }
  put(b, "</h2>");
  put(b, "<div class=head id=summary-%d>", id);
  put(b, "<div class=card>%s<b class=verified>%.4f</b>%d of %d verified</div>", regression ? "verified fraction" : "certified accuracy",
      num(sum, "certified_accuracy"), (int)num(sum, "n_verified"), (int)num(sum, "n_samples"));
  if (!regression) put(b, "<div class=card>clean accuracy<b>%.4f</b></div>", num(sum, "clean_accuracy"));
  put(b, "<div class=card>falsified<b class=falsified>%d</b>counterexample checked</div>", (int)num(sum, "n_falsified"));
  put(b, "<div class=card>unknown<b class=unknown>%d</b>&nbsp;</div>", (int)num(sum, "n_unknown"));
  if (cJSON_IsNumber(get(sum, "median_certified_radius"))) { put(b, "<div class=card>median certified radius<b>"); pnum(b, num(sum, "median_certified_radius")); put(b, "</b>&nbsp;</div>"); }
  if (cJSON_IsObject(get(run, "proofs")))   /* certify --proof */
    put(b, "<div class=card>proofs<b class=verified>%d</b>of %d verified</div>", (int)num(get(run, "proofs"), "with_proof"),
        (int)num(get(run, "proofs"), "verified"));
  put(b, "</div>");
  if (cJSON_IsObject(get(run, "proofs"))) {
    put(b, "<p>%d of the %d <span class=verified>verified</span> samples carry a proof (each sample's <code>proof</code> in "
        "certificates.json), which an independent exact checker re-checks; all of them with one command: <code>",
        (int)num(get(run, "proofs"), "with_proof"), (int)num(get(run, "proofs"), "verified"));
    esc(b, str(get(run, "proofs"), "recheck"));
    put(b, "</code></p>");
  }
  put(b, "<p class=muted>network ");
  esc(b, str(net, "file")); put(b, " (sha256 %s, %d parameters, input ", str(net, "sha256"), (int)num(net, "parameters"));
  { char *t = cJSON_PrintUnformatted(get(net, "input_shape")); esc(b, t); cJSON_free(t); }
  put(b, "); data "); esc(b, str(data, "file")); put(b, " (sha256 %s, %d rows).</p>", str(data, "sha256"), (int)num(data, "rows"));
  if (cJSON_IsString(get(data, "input_space"))) { put(b, "<p class=muted>input space: "); esc(b, str(data, "input_space")); put(b, "</p>"); }
  if (cJSON_IsObject(get(data, "normalisation"))) {   /* --mean/--std: the exact SCALE node in front of the net */
    char *m = cJSON_PrintUnformatted(get(get(data, "normalisation"), "mean")), *d = cJSON_PrintUnformatted(get(get(data, "normalisation"), "std"));
    put(b, "<p class=muted>normalisation: mean "); esc(b, m ? m : "?"); put(b, ", std "); esc(b, d ? d : "?");
    put(b, " (per channel; the network sees (x &minus; mean) / std)</p>");
    cJSON_free(m); cJSON_free(d);
  }
  {
    const cJSON *nw;
    cJSON_ArrayForEach(nw, get(net, "warnings"))
      if (cJSON_IsString(nw)) { put(b, "<p class=unknown>warning: "); esc(b, nw->valuestring); put(b, "</p>"); }
  }
  put(b, "<p class=muted>run on "); esc(b, str(run, "host")); put(b, ", "); esc(b, str(get(run, "timing"), "created"));
  if (cJSON_IsNumber(get(sum, "threads"))) put(b, ", threads %d", (int)num(sum, "threads"));
  put(b, "</p>");
  put(b, "<div class=audit><b>What this certifies.</b> For each <span class=verified>verified</span> sample x<sub>i</sub> of ");
  esc(b, str(data, "file"));
  if (weighted) {   /* a weighted L-inf ball: eps scales the per-feature radii */
    put(b, ": every input x with |x<sub>j</sub> &minus; x<sub>i,j</sub>| &le; "); pnum(b, num(set, "eps"));
    put(b, " r<sub>j</sub> for every feature j (per-feature radii r from "); esc(b, str(tm, "eps_per_feature")); put(b, ")");
  } else { put(b, ": every input x with ||x &minus; x<sub>i</sub>||<sub>%s</sub> &le; ", str(set, "norm")); pnum(b, num(set, "eps")); }
  if (cJSON_IsArray(get(set, "clip"))) { put(b, " inside the box ["); pnum(b, cJSON_GetArrayItem(get(set, "clip"), 0)->valuedouble); put(b, ", "); pnum(b, cJSON_GetArrayItem(get(set, "clip"), 1)->valuedouble); put(b, "]"); }
  if (boxed) {
    put(b, " inside the per-feature box (lower bounds "); esc(b, str(get(tm, "box"), "lo"));
    put(b, ", upper bounds "); esc(b, str(get(tm, "box"), "hi")); put(b, ")");
  }
  put(b, " (input space: "); esc(b, *str(data, "input_space") ? str(data, "input_space") : "the network's input");
  if (regression) {
    put(b, ") moves no output of the network by more than "); pnum(b, num(set, "tol"));
    put(b, " from its value at x<sub>i</sub> (regression: |f<sub>j</sub>(x) &minus; f<sub>j</sub>(x<sub>i</sub>)| &le; tol for every output j), in real arithmetic: "
           "the bounds are sound, with floating-point rounding accounted for. <span class=falsified>Falsified</span>: a concrete input in that set, "
           "re-checked in exact arithmetic, moves an output by more than the tolerance.");
  } else if (target >= 0) {
    put(b, ") keeps the margin f<sub>label</sub> &minus; f<sub>%d</sub> &gt; 0 (targeted threat model: class %d never reaches the label, so it is "
           "never the top class; other classes are not examined), in real arithmetic: the bounds are sound, with floating-point rounding "
           "accounted for. <span class=falsified>Falsified</span>: a concrete input in that set, re-checked in exact arithmetic, where class %d "
           "scores at least the label.", target, target, target);
  } else
    put(b, ") is given the sample's label by the network, in real arithmetic: the bounds are sound, with floating-point "
           "rounding accounted for. <span class=falsified>Falsified</span>: a concrete input in that set, re-checked in exact "
           "arithmetic, gets another class.");
  put(b, " <span class=unknown>Unknown</span>: neither proved nor refuted within the budget; it is evidence of nothing.</div>");
  settings_table(b, set);
  if (cJSON_IsTrue(get(set, "radius"))) { put(b, "<h3>Certified accuracy versus eps</h3>"); curve(b, run, id); }
  else put(b, "<p class=muted>No accuracy-versus-eps curve: the radii are known only with --radius.</p>");
  put(b, "<h3>Decided by</h3><table><tr>");
  cJSON_ArrayForEach(s, get(sum, "decided_by")) { put(b, "<th>"); esc(b, s->string); put(b, "</th>"); }
  put(b, "</tr><tr>");
  cJSON_ArrayForEach(s, get(sum, "decided_by")) put(b, "<td>%d</td>", (int)s->valuedouble);
  put(b, "</tr></table>");
  put(b, "<h3>Samples</h3>");
  sample_table(b, run, "falsified");
  sample_table(b, run, "unknown");
  sample_table(b, run, "verified");
  put(b, "<h3>Logit intervals over the ball</h3><p class=muted>Bar: certified bounds of each logit (green: the label); dot: the clean logit. Falsified and unknown samples first.</p><div class=grid>");
  for (int pass = 0; pass < 2; pass++)
    cJSON_ArrayForEach(s, get(run, "samples")) {
      int v = !strcmp(str(s, "verdict"), "verified");
      if (v != pass || shown >= (pass ? 36 : 24) || !cJSON_IsArray(get(s, "logit_lb"))) continue;
      logit_plot(b, s);
      shown++;
    }
  put(b, "</div>");
  if (is_image(net, &h, &w)) {
    int k = 0;
    put(b, "<h3>Counterexamples</h3><p class=muted>Sample, counterexample and their difference (red +, blue &minus;); first channel.</p>");
    cJSON_ArrayForEach(s, get(run, "samples")) {
      if (!cJSON_IsArray(get(s, "counterexample")) || !cJSON_IsArray(get(s, "x")) || !strcmp(str(s, "decided_by"), "clean") || k >= 12) continue;
      char cap[96];
      put(b, "<div class=grid>");
      snprintf(cap, sizeof cap, "#%d label %d", (int)num(s, "index"), (int)num(s, "label"));
      heatmap(b, get(s, "x"), NULL, h, w, 0, cap);
      if (regression) snprintf(cap, sizeof cap, "counterexample: output %d moves", (int)num(s, "counterexample_output"));
      else snprintf(cap, sizeof cap, "counterexample: class %d", (int)num(s, "counterexample_class"));
      heatmap(b, get(s, "counterexample"), NULL, h, w, 0, cap);
      heatmap(b, get(s, "counterexample"), get(s, "x"), h, w, 1, "difference");
      put(b, "</div>");
      k++;
    }
    if (!k) put(b, "<p>No counterexample beyond misclassified clean samples.</p>");
  }
  if (cJSON_IsObject(lip)) {
    const cJSON *l;
    put(b, "<h3>Lipschitz constants per layer (L%s)</h3><table><tr><th class=l>node</th><th class=l>kind</th><th>shape</th><th>lower (power iteration)</th><th>upper (guaranteed)</th></tr>", str(lip, "norm"));
    cJSON_ArrayForEach(l, get(lip, "layers")) {
      put(b, "<tr><td class=l>"); esc(b, str(l, "name")); put(b, "</td><td class=l>%s</td><td>%dx%d</td><td>", str(l, "kind"), (int)num(l, "rows"), (int)num(l, "cols"));
      pnum(b, num(l, "lower")); put(b, "</td><td>"); pnum(b, num(l, "upper")); put(b, "</td></tr>");
    }
    put(b, "</table><p>Global constant: K (layerwise) "); pnum(b, num(lip, "K_layerwise")); put(b, ", K (merged chains) "); pnum(b, num(lip, "K_merged")); put(b, ".</p>");
  }
  reproduce(b, run);
}


/* A caption followed by a grey colour bar from lo (white) to hi (black),
   both printed, into buf (HTML). */
static void bar_caption(char *buf, size_t cap, const char *text, double lo, double hi)
{
  int n = snprintf(buf, cap, "%s<br><svg width=80 height=8>", text);
  for (int k = 0; k < 8 && n > 0 && (size_t)n < cap; k++) {
    int g = 255 - k * 255 / 7;
    n += snprintf(buf + n, cap - (size_t)n, "<rect x=%d width=10 height=8 fill='rgb(%d,%d,%d)'/>", k * 10, g, g, g);
  }
  if (n > 0 && (size_t)n < cap) snprintf(buf + n, cap - (size_t)n, "</svg> %.3g&hellip;%.3g", lo, hi);
}

/* Smallest and largest of the first n values of a. */
static void range1(const cJSON *a, int n, double *lo, double *hi)
{
  range2(a, a, n, lo, hi);
}

/* The verdict of an audit sample ("stable", "unstable", "undecided"; a
   report without verdicts: "stable" or "not certifiably stable"). */
static const char *audit_verdict(const cJSON *s)
{
  const char *v = str(s, "verdict");
  return *v ? v : cJSON_IsTrue(get(s, "stable")) ? "stable" : "not certifiably stable";
}

static const char *verdict_class(const char *v)
{
  return !strcmp(v, "stable") ? "verified" : !strcmp(v, "unstable") ? "falsified" : "unknown";
}

/* Witnesses of the unstable samples: the input, the witness, their
   difference, the clean map and the witness's map on one scale, and the
   features entering and leaving the top-k. */
static void audit_witnesses(sb *b, const cJSON *run, int h, int w)
{
  const cJSON *s;
  int k = 0;
  put(b, "<h3>Witnesses of instability</h3><p class=muted>Per unstable sample: the input, the witness point of the ball "
        "(its distance to the input checked exactly), their difference (red +, blue &minus;), then the map at the input and the map "
        "recomputed at the witness on one grey scale (white the smallest value of both, black the largest); first channel.</p>");
  cJSON_ArrayForEach(s, get(run, "samples")) {
    const cJSON *wt = get(s, "witness");
    char cap[160], *en, *lf;
    double lo, hi;
    if (!cJSON_IsObject(wt) || !cJSON_IsArray(get(s, "x")) || !cJSON_IsArray(get(s, "map")) || k >= 12) continue;
    en = cJSON_PrintUnformatted(get(wt, "entered")); lf = cJSON_PrintUnformatted(get(wt, "left"));
    put(b, "<div class=grid>");
    snprintf(cap, sizeof cap, "#%d label %d", (int)num(s, "index"), (int)num(s, "label"));
    heatmap(b, get(s, "x"), NULL, h, w, 0, cap);
    heatmap(b, get(wt, "x"), NULL, h, w, 0, "witness");
    heatmap(b, get(wt, "x"), get(s, "x"), h, w, 1, "difference");
    range2(get(s, "map"), get(wt, "map"), h * w, &lo, &hi);
    {
      char bc[1024], t[200];
      bar_caption(bc, sizeof bc, "map at the input", lo, hi);
      heatmap_in(b, get(s, "map"), NULL, h, w, 0, bc, lo, hi);
      snprintf(t, sizeof t, "map at the witness: %s; entered %s, left %s", !strcmp(str(wt, "reason"), "topk") ? "top-k changed" : "change above the threshold",
               en ? en : "", lf ? lf : "");
      bar_caption(bc, sizeof bc, t, lo, hi);
      heatmap_in(b, get(wt, "map"), NULL, h, w, 0, bc, lo, hi);
    }
    put(b, "</div>");
    cJSON_free(en); cJSON_free(lf);
    k++;
  }
  if (!k) put(b, "<p>No unstable sample.</p>");
}

/* An audit run (cerbere audit): per sample the verdict, the map, its
   certified bounds, guaranteed and sampled change, stability, certified
   top-k and the witness of an unstable sample. */
static void audit_section(sb *b, const cJSON *run, int id)
{
  const cJSON *net = get(run, "network"), *set = get(run, "settings"), *sum = get(run, "summary"), *s, *data = get(run, "data");
  int h, w, img = is_image(net, &h, &w), shown = 0;
  put(b, "<h2 id=run-%d>audit: ", id);
  esc(b, str(net, "file"));
  put(b, " &mdash; %s attributions, L%s ball, eps ", str(set, "method"), str(set, "norm")); pnum(b, num(set, "eps"));
  put(b, "</h2><div class=head id=summary-%d>", id);
  put(b, "<div class=card>stable<b class=verified>%d</b>of %d samples (top-%d certified)</div>", (int)num(sum, "n_stable"), (int)num(sum, "n_samples"), (int)num(set, "topk"));
  if (cJSON_IsNumber(get(sum, "n_unstable"))) {
    put(b, "<div class=card>unstable<b class=falsified>%d</b>witness found and re-checked</div>", (int)num(sum, "n_unstable"));
    put(b, "<div class=card>undecided<b class=unknown>%d</b>neither</div>", (int)num(sum, "n_undecided"));
  }
  put(b, "<div class=card>mean AverageStability<b>"); pnum(b, num(sum, "mean_stability")); put(b, "</b>empirical, radius "); pnum(b, num(set, "stability_radius")); put(b, "</div>");
  put(b, "<div class=card>mean guaranteed max change (L2)<b>"); pnum(b, num(sum, "mean_max_change_l2")); put(b, "</b>certified</div>");
  put(b, "<div class=card>mean certified top-k<b>"); pnum(b, num(sum, "mean_certified_topk")); put(b, "</b>features</div></div>");
  put(b, "<p class=muted>network "); esc(b, str(net, "file")); put(b, " (sha256 %s); data ", str(net, "sha256"));
  esc(b, str(data, "file")); put(b, " (sha256 %s). The certified bounds hold for every input of the ball (sound, rounding included); "
        "AverageStability is an empirical estimate (Xplique's definition). Verdicts: <span class=verified>stable</span> when the whole "
        "top-k is certified to stay the top-k over the ball; <span class=falsified>unstable</span> when a witness point of the ball "
        "(distance checked exactly) has a recomputed map whose top-k set differs (or that moves past the threshold); "
        "<span class=unknown>undecided</span> otherwise. The sampled change is the largest change seen at the points the audit "
        "tried: a gap to the certified change means loose bounds or a missed witness.</p>", str(data, "sha256"));
  put(b, "<table><tr><th>#</th><th>label</th><th>target</th><th>stability</th><th>max change L1</th><th>L2</th><th>Linf</th><th>sampled change L2</th><th class=l>top-k</th><th class=l>certified top-k</th><th class=l>verdict</th></tr>");
  cJSON_ArrayForEach(s, get(run, "samples")) {
    char *t1 = cJSON_PrintUnformatted(get(s, "topk")), *t2 = cJSON_PrintUnformatted(get(s, "certified_topk"));
    const cJSON *mc = get(s, "max_change");
    put(b, "<tr><td>%d</td><td>%d</td><td>%d</td><td>", (int)num(s, "index"), (int)num(s, "label"), (int)num(s, "target"));
    pnum(b, num(s, "stability")); put(b, "</td><td>"); pnum(b, num(mc, "l1")); put(b, "</td><td>"); pnum(b, num(mc, "l2"));
    put(b, "</td><td>"); pnum(b, num(mc, "linf")); put(b, "</td><td>"); pnum(b, num(get(s, "empirical_max_change"), "l2"));
    put(b, "</td><td class=l>%s</td><td class=l>%s</td><td class=l><span class=%s>%s</span></td></tr>", t1 ? t1 : "", t2 ? t2 : "",
        verdict_class(audit_verdict(s)), audit_verdict(s));
    cJSON_free(t1); cJSON_free(t2);
  }
  put(b, "</table>");
  if (img) {
    put(b, "<h3>Maps and their certified bounds</h3><p class=muted>Per sample: the input, the map (its own grey scale), the certified "
          "lower and upper maps over the ball (one grey scale for both: white the smallest lower bound, black the largest upper bound) "
          "and the width upper - lower per feature (own scale), each with its colour bar; first channel. Samples that are not stable first.</p>");
    for (int pass = 0; pass < 2; pass++)
      cJSON_ArrayForEach(s, get(run, "samples")) {
        char cap[128], bc[1024];
        double lo, hi;
        if (cJSON_IsTrue(get(s, "stable")) != pass || shown >= 24 || !cJSON_IsArray(get(s, "map"))) continue;
        put(b, "<div class=grid>");
        snprintf(cap, sizeof cap, "#%d label %d", (int)num(s, "index"), (int)num(s, "label"));
        if (cJSON_IsArray(get(s, "x"))) heatmap(b, get(s, "x"), NULL, h, w, 0, cap);
        snprintf(cap, sizeof cap, "map (target %d), stability %.3g", (int)num(s, "target"), num(s, "stability"));
        range1(get(s, "map"), h * w, &lo, &hi);
        bar_caption(bc, sizeof bc, cap, lo, hi);
        heatmap_in(b, get(s, "map"), NULL, h, w, 0, bc, lo, hi);
        range2(get(s, "map_lb"), get(s, "map_ub"), h * w, &lo, &hi);
        bar_caption(bc, sizeof bc, "certified lower", lo, hi);
        heatmap_in(b, get(s, "map_lb"), NULL, h, w, 0, bc, lo, hi);
        bar_caption(bc, sizeof bc, "certified upper", lo, hi);
        heatmap_in(b, get(s, "map_ub"), NULL, h, w, 0, bc, lo, hi);
        snprintf(cap, sizeof cap, "width (max change Linf %.3g), %s", num(get(s, "max_change"), "linf"), audit_verdict(s));
        heatmap(b, get(s, "map_ub"), get(s, "map_lb"), h, w, 0, cap);
        put(b, "</div>");
        shown++;
      }
    audit_witnesses(b, run, h, w);
  }
  reproduce(b, run);
}

char *report_html(const cJSON *report)
{
  sb b = {0};
  const cJSON *run, *tool = get(report, "tool");
  int id = 0;
  b.cap = 1 << 16;
  b.s = cb_alloc(b.cap);
  if (!b.s) return NULL;
  b.s[0] = 0;
  put(&b, "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>cerbere certification report</title><style>%s</style></head><body>", css);
  put(&b, "<h1>cerbere certification report</h1><p class=muted>%s %s (commit %s), report schema %s. Verified means a sound bound "
          "proved the run's property (every margin positive, the target's margin positive, or every output within the "
          "regression tolerance: see each run's box) over the whole set, for real arithmetic; falsified means a counterexample "
          "was found and re-checked in exact arithmetic.</p>", str(tool, "name"), str(tool, "version"), str(tool, "git_commit"), str(report, "schema"));
  put(&b, "<ul>");
  cJSON_ArrayForEach(run, get(report, "runs")) {
    const cJSON *set = get(run, "settings"), *sum = get(run, "summary");
    put(&b, "<li><a href='#run-%d'>%s L%s eps ", id, str(run, "command"), str(set, "norm"));
    pnum(&b, num(set, "eps"));
    if (!strcmp(str(run, "command"), "audit"))
      put(&b, "</a>: %s attributions, %d of %d stable, %d unstable, %d undecided</li>", str(set, "method"), (int)num(sum, "n_stable"), (int)num(sum, "n_samples"),
          (int)num(sum, "n_unstable"), (int)num(sum, "n_undecided"));
    else
      put(&b, "</a>: %s %.4f, %d falsified, %d unknown</li>", cJSON_IsNumber(get(set, "tol")) ? "regression, verified fraction" :
          cJSON_IsNumber(get(get(set, "threat_model"), "target")) ? "targeted, certified accuracy" : "certified accuracy",
          num(sum, "certified_accuracy"), (int)num(sum, "n_falsified"), (int)num(sum, "n_unknown"));
    id++;
  }
  put(&b, "</ul>");
  id = 0;
  cJSON_ArrayForEach(run, get(report, "runs")) {
    if (!strcmp(str(run, "command"), "audit")) audit_section(&b, run, id++);
    else run_section(&b, run, id++);
  }
  put(&b, "</body></html>\n");
  if (b.oom) { cb_free(b.s); return NULL; }
  return b.s;
}
