/*
** What the files of the branch and bound share (vfy_int.h): the exact
** witness check of verify.h (a double forward pass proposes, real
** arithmetic decides), the clock and the portfolio's cancel flag, the node
** boxes copied to and from flat buffers, setting the SAT answer, and the
** blocks every refutation goes through, once each: the lower linear form
** of a row from a CROWN pass, the test of a row's bound against its
** right-hand side, and the combination of rows with its rounding slack
** and final test.  Only these and the CROWN passes decide UNSAT; GLPK's
** numbers enter as weights.
**
** Sizes: the witness check runs once per candidate point (a few per
** subdomain); the node boxes are the sum of node sizes (ACAS Xu: ~600).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "vfy_int.h"
#include "forward.h"
#include "lp.h"
#include "exact.h"
#include "round.h"

/* The clock of the searches this thread runs (vfy_opts.cpu_clock). */
static _Thread_local int cpu_clock;

void vfy_clock_cpu(int on) { cpu_clock = on; }

double vfy_now(void)
{
  struct timespec t;
  clock_gettime(cpu_clock ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Does y meet conjunction c (rows in double, against the rounded-down b)? */
static int meets(const vnn_conj *c, const double *y, size_t ny)
{
  for (size_t r = 0; r < c->m; r++) {
    double s = 0;
    for (size_t j = 0; j < ny; j++) s += c->A[r * ny + j] * y[j];
    if (!(c->strict[r] ? s < c->b_dn[r] : s <= c->b_dn[r])) return 0;
  }
  return 1;
}

/* Does the real output (enclosure E) meet conjunction c?  The real b_r lies
   in [b_dn, b_up]; rows compare with b_dn <= b_r.  When b_dn < b_up, b_r is
   not a double and b_dn < b_r, so a.y <= b_dn implies a.y < b_r. */
static int meets_exact(const vnn_conj *c, const cb_exact *E)
{
  for (size_t r = 0; r < c->m; r++) {
    int smin, smax;
    exact_row_sign(E, c->A + r * exact_n_out(E), c->b_dn[r], &smin, &smax);
    if (!(c->strict[r] && c->b_dn[r] == c->b_up[r] ? smax < 0 : smax <= 0)) return 0;
  }
  return 1;
}

/* Is input i of box B a real interval with no double but two decimal bounds? */
static int dec_input(const vnn_box *B, size_t i)
{
  return !(B->lo_in[i] <= B->hi_in[i]) && B->lo_dec && B->lo_dec[i] && B->hi_dec[i];
}

/* The real-arithmetic evaluation of candidate x of box B, at the exact
   decimals (the midpoint of the two decimal bounds) on the inputs that hold
   no double (dec: there are such inputs), at x elsewhere. */
static int eval_candidate(const cb_net *net, const vnn_box *B, size_t nx, const double *x, int dec, cb_exact **E)
{
  cb_error err = {0};
  const char **dl;
  int rc;
  if (!dec) return exact_eval(net, x, E, &err);
  if (!(dl = cb_calloc(2 * nx + 1, sizeof *dl))) return CB_ENOMEM;
  for (size_t i = 0; i < nx; i++)
    if (dec_input(B, i)) { dl[i] = B->lo_dec[i]; dl[nx + i] = B->hi_dec[i]; }
  rc = exact_eval_dec(net, x, dl, dl + nx, E, &err);
  cb_free(dl);
  return rc;
}

/* Does box B hold no double, with every such input between two decimals?
   (Then candidates are checked at the decimals there.) */
static int dec_box(const vnn_box *B, size_t nx)
{
  int any = 0;
  for (size_t i = 0; i < nx; i++) {
    if (B->lo_in[i] <= B->hi_in[i]) continue;
    if (!dec_input(B, i)) return 0;
    any = 1;
  }
  return any;
}

int vfy_check_witness(const cb_net *net, const vnn_spec *spec, size_t b, const double *x, double *y, size_t *conj,
                      long *fp_only)
{
  const vnn_box *B = &spec->box[b];
  cb_error err = {0};
  cb_exact *E = NULL;
  int any = 0, ok = 0, dec = 0;
  for (size_t i = 0; i < spec->nx; i++) {
    if (x[i] >= B->lo_in[i] && x[i] <= B->hi_in[i]) continue;
    if (!dec_input(B, i)) return 0;
    dec = 1;   /* no double here: the candidate takes the exact decimal (x proposes in double) */
  }
  if (cb_net_forward(net, x, 1, y, &err) != CB_OK) return 0;
  for (size_t j = 0; j < spec->ny; j++) if (!isfinite(y[j])) return 0;
  for (size_t c = 0; c < B->n_conj && !any; c++) any = meets(&B->conj[c], y, spec->ny);
  if (!any || eval_candidate(net, B, spec->nx, x, dec, &E) != CB_OK) return 0;
  for (size_t c = 0; c < B->n_conj && !ok; c++)
    if (meets_exact(&B->conj[c], E)) { *conj = c; ok = 1; }
  exact_free(E);
  if (!ok && fp_only) {
    #pragma omp atomic
    (*fp_only)++;
  }
  return ok;
}

int vfy_check_witness_dec(const cb_net *net, const vnn_spec *spec, size_t b, const double *lo, const double *hi,
                          size_t *conj, cb_exact **E)
{
  const vnn_box *B = &spec->box[b];
  size_t nx = spec->nx;
  double *x = cb_alloc(nx * sizeof *x + 1);
  const char **dl = cb_calloc(2 * nx + 1, sizeof *dl), **dh = dl + nx;
  cb_error err = {0};
  int ok = 0;
  *E = NULL;
  if (!x || !dl) goto out;
  for (size_t i = 0; i < nx; i++) {
    const char *dlo = B->lo_dec ? B->lo_dec[i] : NULL, *dhi = B->lo_dec ? B->hi_dec[i] : NULL;
    x[i] = 0;
    if (B->lo_in[i] <= B->hi_in[i]) {   /* the real interval holds doubles */
      if (hi[i] < B->lo_in[i] && dlo) dl[i] = dh[i] = dlo;        /* [lo, hi] lies below them: the real end */
      else if (lo[i] > B->hi_in[i] && dhi) dl[i] = dh[i] = dhi;   /* above them */
      else x[i] = fmin(fmax(lo[i] + 0.5 * (hi[i] - lo[i]), B->lo_in[i]), B->hi_in[i]);   /* the centre, clamped */
      continue;
    }
    if (!dlo || !dhi) goto out;   /* the real point is unknown */
    dl[i] = dlo;
    dh[i] = dhi;
  }
  if (exact_eval_dec(net, x, dl, dh, E, &err) != CB_OK) goto out;
  for (size_t c = 0; c < B->n_conj && !ok; c++)
    if (meets_exact(&B->conj[c], *E)) { *conj = c; ok = 1; }
out:
  if (!ok) { exact_free(*E); *E = NULL; }
  cb_free(x);
  cb_free(dl);
  return ok;
}

/* Has the other search of a portfolio answered (vfy_run)? */
int vfy_cancelled(const search *S)
{
  int v = 0;
  if (!S->o->cancel) return 0;
  #pragma omp atomic read
  v = *S->o->cancel;
  return v;
}

/* The node boxes (lo then hi, S->nb each) copied out of / pointed into a flat buffer. */
void vfy_boxes_out(const search *S, const cb_ws *ws, double *p)
{
  size_t off = 0;
  for (int i = 0; i < S->net->n; i++) {
    size_t n = S->net->node[i].size;
    memcpy(p + off, ws->lo[i], n * sizeof *p);
    memcpy(p + S->nb + off, ws->hi[i], n * sizeof *p);
    off += n;
  }
}

void vfy_boxes_ptrs(const search *S, double *p, double **pl)
{
  size_t off = 0;
  for (int i = 0; i < S->net->n; i++) { pl[i] = p + off; pl[S->net->n + i] = p + S->nb + off; off += S->net->node[i].size; }
}

/* Sets r to SAT with witness x (already checked) in box b. */
int vfy_set_sat(search *S, size_t b, const double *x, const double *y, size_t c)
{
  vfy_result *r = S->r;
  if (dec_box(&S->spec->box[b], S->spec->nx)) {   /* x was checked at the decimals: keep that point */
    cb_exact *E = NULL;
    int rc = eval_candidate(S->net, &S->spec->box[b], S->spec->nx, x, 1, &E);
    if (rc == CB_OK) rc = vfy_set_sat_dec(S, b, E, c);
    exact_free(E);
    return rc;
  }
  r->x = cb_alloc(S->spec->nx * sizeof(double));
  r->y = cb_alloc(S->spec->ny * sizeof(double));
  if (!r->x || !r->y) return CB_ENOMEM;
  memcpy(r->x, x, S->spec->nx * sizeof(double));
  memcpy(r->y, y, S->spec->ny * sizeof(double));
  r->answer = V_FALSIFIED;
  r->box = b;
  r->conj = c;
  return CB_OK;
}

/* Text k of a rational witness (inputs then outputs) into buf. */
static void witness_text(const cb_exact *E, size_t nx, size_t k, char *buf, size_t n)
{
  if (k < nx) exact_input_text(E, k, buf, n);
  else exact_output_text(E, k - nx, buf, n);
}

/* Sets r to SAT with the rational witness E (vfy_check_witness_dec) in box b:
   exact texts (one block: nx + ny pointers, then the strings), and the
   nearest doubles (inputs) or enclosure midpoints (outputs) in x and y. */
int vfy_set_sat_dec(search *S, size_t b, const cb_exact *E, size_t c)
{
  enum { TEXT = 4096 };
  vfy_result *r = S->r;
  size_t nx = S->spec->nx, ny = S->spec->ny, total = 0;
  char *buf = cb_alloc(TEXT), *t;
  r->x = cb_alloc(nx * sizeof(double));
  r->y = cb_alloc(ny * sizeof(double));
  if (!buf || !r->x || !r->y) { cb_free(buf); return CB_ENOMEM; }
  for (size_t k = 0; k < nx + ny; k++) { witness_text(E, nx, k, buf, TEXT); total += strlen(buf) + 1; }
  if (!(r->x_text = cb_alloc((nx + ny) * sizeof(char *) + total))) { cb_free(buf); return CB_ENOMEM; }
  r->y_text = r->x_text + nx;
  t = (char *)(r->x_text + nx + ny);
  for (size_t k = 0; k < nx + ny; k++) {
    double lo, hi;
    witness_text(E, nx, k, buf, TEXT);   /* via buf: the text is built longer, then trimmed */
    memcpy(t, buf, strlen(buf) + 1);
    r->x_text[k] = t;
    if (k < nx) {
      exact_input(E, k, &lo, &hi);
      r->x[k] = lo == hi ? lo : strtod(t, NULL);   /* the nearest double (a fraction "N/D": an end) */
      if (!(r->x[k] >= lo && r->x[k] <= hi)) r->x[k] = lo;
    } else {
      exact_output(E, k - nx, &lo, &hi);
      r->y[k - nx] = lo == hi ? lo : lo + 0.5 * (hi - lo);
    }
    t += strlen(t) + 1;
  }
  cb_free(buf);
  r->rational = !exact_input_is_double(E);
  r->answer = V_FALSIFIED;
  r->box = b;
  r->conj = c;
  return CB_OK;
}

/* The min-max LP of the row combinations (vfy_int.h): an estimate either way. */
int vfy_minmax(const double *a, const double *c, size_t m, size_t n, const double *lo, const double *hi,
               double *x, double *l, double *t)
{
  int r = lp_minmax_small(a, c, m, n, lo, hi, x, l, t);
  return r ? r : lp_minmax(a, c, m, n, lo, hi, x, l, t);
}

/* ---- the soundness-critical blocks, one copy each ---- */

/*
** The lower linear form of a row g . y from one CROWN pass of -g
** (crown_linear, crown_linear_inj): lin (nx) and out >= max of -g . y over
** the box, with -g . y <= lin . x + d there.  Then g . y >= a . x + c with
**   a = -lin,   c = -out - sum_j min(a_j lo_j, a_j hi_j),
** c chosen so that the form's minimum over the box [lo, hi] is -out, the
** sound lower bound.  Writes a (may be lin itself) and returns c.  The form
** steers the LP, the branching and the side searched first: it proves
** nothing (-out and the CROWN passes do).
*/
double vfy_lower_form(const double *lin, double out, const double *lo, const double *hi, size_t nx, double *a)
{
  double m = 0;
  for (size_t j = 0; j < nx; j++) {
    a[j] = -lin[j];
    m += fmin(a[j] * lo[j], a[j] * hi[j]);
  }
  return -out - m;
}

/* Does a sound lower bound lb of A_r y (row r of k) over a region refute the
   conjunction there: lb > b_r, or lb >= b_r for a strict row?  b_up >= b_r. */
int vfy_row_refutes(const vnn_conj *k, size_t r, double lb)
{
  return k->strict[r] ? lb >= k->b_up[r] : lb > k->b_up[r];
}

/*
** A combination of the rows of conjunction k with weights l_r >= 0 (from an
** LP: any l >= 0 is sound, a bad one only fails to refute).  Any y meeting k
** has sum_r l_r A_r y <= sum_r l_r b_r.  In double:
**   g_j = sum_r l_r A_rj (negated when neg: -g for an upper CROWN pass),
**   *rhs = sum_r l_r b_up_r,
** and the returned slack covers the rounding of both for outputs within
** ymax (|y_j| <= ymax_j, the output node's zmax):
**   slack = 2 gamma_{m+1} (sum_j (sum_r l_r |A_rj|) ymax_j + sum_r |l_r b_up_r|),
** rounded up (gamma_n as in Higham, Accuracy and Stability of Numerical
** Algorithms, Sec. 3.1; docs/soundness.md, "row combinations").
*/
double vfy_combine_rows(const vnn_conj *k, size_t ny, const double *l, int neg, const double *ymax, double *g,
                        double *rhs)
{
  double rabs = 0, slack = 0;
  *rhs = 0;
  for (size_t j = 0; j < ny; j++) {
    double gabs = 0;
    g[j] = 0;
    for (size_t r = 0; r < k->m; r++) {
      double t = l[r] * k->A[r * ny + j];
      if (neg) g[j] -= t; else g[j] += t;
      gabs += l[r] * fabs(k->A[r * ny + j]);
    }
    slack += round_gamma(k->m + 1) * gabs * ymax[j];
  }
  for (size_t r = 0; r < k->m; r++) { *rhs += l[r] * k->b_up[r]; rabs += fabs(l[r] * k->b_up[r]); }
  return round_up(2 * (slack + round_gamma(k->m + 1) * rabs));
}

/* The final test of a combination: lb, a sound lower bound of sum_r l_r A_r y
   over the region (a CROWN concretisation), minus the rounding slack and
   rounded down, above rhs: no point of the region meets the conjunction.
   Infinite or NaN bounds or slack never refute. */
int vfy_combination_refutes(double lb, double slack, double rhs)
{
  return isfinite(slack) && isfinite(lb) && round_down(lb - slack) > rhs;
}

void vfy_prof_add(vfy_prof *to, const vfy_prof *p)
{
  to->bound_s += p->bound_s; to->branch_s += p->branch_s;
  to->lp_s += p->lp_s; to->lp_calls += p->lp_calls;
  to->milp_s += p->milp_s; to->milp_calls += p->milp_calls; to->milp_nodes += p->milp_nodes;
  to->milp_closed += p->milp_closed; to->milp_sat += p->milp_sat;
  to->attack_s += p->attack_s;
  to->batches += p->batches; to->batch_items += p->batch_items;
  if (p->batch_max > to->batch_max) to->batch_max = p->batch_max;
}
