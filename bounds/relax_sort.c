/*
** SORT relaxation, one group of g members with input boxes [l_j, u_j], rank r
** (the node's order).  Member j's possible ranks [rmin_j, rmax_j] come from
** sort_rank_range; the candidates for rank r are the members whose range
** holds r, and y_r is the value of one of them.
**   - one candidate j:  y_r = x_j  (exact, both sides);
**   - always:  y_r in [r-th order statistic of l, of u]  (order statistics are
**     nondecreasing in every entry): the constant lines;
**   - largest first: a member j whose rank is >= r at every point
**     (rmin_j >= r) is below y_r:  lower  y_r >= x_j  (the one with the
**     largest l + u); one whose rank is <= r (rmax_j <= r) is above:
**     upper  y_r <= x_j (smallest l + u); smallest first: the other way round.
**     For the group's max every member qualifies below (DeepPoly's max), for
**     its min every member above; these lines win over the others;
**   - two candidates a, b (any rank): y in [min(x_a, x_b), max(x_a, x_b)];
**       max(a, b) = b + relu(a - b), a - b in [L, U] = [l_a - u_b, u_a - l_b]:
**       upper  y <= mu x_a + (1 - mu) x_b + c,  mu = U / (U - L)  (the ReLU chord);
**       lower  y >= (1 - mu) x_a + mu x_b + c'  (min = a + b - max).
**     The intercepts are not taken from the formula but recomputed for the
**     stored weights: max(a, b) - w.x is convex, so its max over the box is at
**     one of the 4 vertices (c = that max, rounded up); min(a, b) - w.x is
**     concave (c' = the min over the vertices, rounded down).
** A k-sort's middle ranks with 3 or more candidates and no member surely
** below (above) keep the constants: sound, looser than a relaxed sorting
** network (said in docs/soundness.md).
** Source: Singh et al. 2019 (DeepPoly) max; Zhang et al. 2018 (CROWN) ReLU chord;
** auto_LiRPA BoundMax (the same a + relu(b - a) form).
*/
#include <math.h>
#include "relax_sort.h"
#include "round.h"
#include "sort.h"

static void line_const(sort_line *s, double c) { s->n = 0; s->c = c; }
static void line_one(sort_line *s, size_t j) { s->n = 1; s->j[0] = j; s->w[0] = 1; s->c = 0; }

/* c = max (up) or min (!up) over the box's vertices of m(a, b) - w.(a, b),
   m = max (up) or min; rounded outward.  0 if not finite. */
static int chord_intercept(int up, double la, double ua, double lb, double ub, const double *w, double *c)
{
  double va[2] = {la, ua}, vb[2] = {lb, ub}, best = up ? -HUGE_VAL : HUGE_VAL;
  for (int s = 0; s < 2; s++)
    for (int t = 0; t < 2; t++) {
      double a = va[s], b = vb[t], m = up ? fmax(a, b) : fmin(a, b), v;
      if (up) v = round_add_ru(round_add_ru(m, round_mul_ru(-w[0], a)), round_mul_ru(-w[1], b));
      else v = round_add_rd(round_add_rd(m, round_mul_rd(-w[0], a)), round_mul_rd(-w[1], b));
      best = up ? fmax(best, v) : fmin(best, v);
    }
  *c = best;
  return isfinite(best);
}

/* The chord lines of max(x_a, x_b) (upper) and min(x_a, x_b) (lower). */
static void chords(const double *l, const double *u, size_t a, size_t b, sort_line *mx_up, sort_line *mn_lo)
{
  double U = u[a] - l[b], L = l[a] - u[b], mu = U - L > 0 ? U / (U - L) : 0.5;
  mu = mu < 0 ? 0 : mu > 1 ? 1 : mu;
  mx_up->n = mn_lo->n = 2;
  mx_up->j[0] = mn_lo->j[0] = a;
  mx_up->j[1] = mn_lo->j[1] = b;
  mx_up->w[0] = mu; mx_up->w[1] = 1 - mu;
  mn_lo->w[0] = 1 - mu; mn_lo->w[1] = mu;
  if (!chord_intercept(1, l[a], u[a], l[b], u[b], mx_up->w, &mx_up->c)) mx_up->n = -1;
  if (!chord_intercept(0, l[a], u[a], l[b], u[b], mn_lo->w, &mn_lo->c)) mn_lo->n = -1;
}

void relax_sort_group(const cb_node *n, const double *l, const double *u, const size_t *idx, size_t *zs, double *zd,
                      sort_line *lo, sort_line *up)
{
  size_t g = (size_t)n->p.sort.g, *rmin = zs, *rmax = zs + g;
  int desc = n->p.sort.desc;
  double *ls = zd, *us = zd + g;
  sort_values(n, l, idx, rmin, ls);   /* rmin as the order's scratch, filled below */
  sort_values(n, u, idx, rmin, us);
  sort_rank_range(n, l, u, idx, rmin, rmax);
  for (size_t r = 0; r < g; r++) {
    size_t cand[2] = {0, 0}, nc = 0, below = 0, above = 0;
    double best_below = -HUGE_VAL, best_above = HUGE_VAL;
    line_const(&lo[r], ls[r]);
    line_const(&up[r], us[r]);
    for (size_t j = 0; j < g; j++) {
      double mid = l[idx[j]] + u[idx[j]];
      int late = rmin[j] >= r, early = rmax[j] <= r;   /* rank >= r, <= r at every point */
      if ((desc ? late : early) && isfinite(mid) && mid > best_below) { best_below = mid; below = j; }   /* x_j <= y_r */
      if ((desc ? early : late) && isfinite(mid) && mid < best_above) { best_above = mid; above = j; }   /* x_j >= y_r */
      if (rmin[j] > r || rmax[j] < r) continue;
      if (nc < 2) cand[nc] = j;
      nc++;
    }
    if (nc == 1) { line_one(&lo[r], idx[cand[0]]); line_one(&up[r], idx[cand[0]]); continue; }
    if (nc == 2 && isfinite(l[idx[cand[0]]] + u[idx[cand[0]]] + l[idx[cand[1]]] + u[idx[cand[1]]])) {
      sort_line mu, ml;
      chords(l, u, idx[cand[0]], idx[cand[1]], &mu, &ml);
      if (mu.n > 0) up[r] = mu;
      if (ml.n > 0) lo[r] = ml;
    }
    if (best_below > -HUGE_VAL) line_one(&lo[r], idx[below]);
    if (best_above < HUGE_VAL) line_one(&up[r], idx[above]);
  }
}
