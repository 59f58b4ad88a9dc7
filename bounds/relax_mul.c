/*
** McCormick relaxation of z = x y on the box [xl, xu] x [yl, yu]:
**   (x - xl)(y - yl) >= 0  gives  z >= yl x + xl y - xl yl,
**   (x - xl)(y - yu) <= 0  gives  z <= yu x + xl y - xl yu,
** the planes auto_LiRPA's BoundMul takes (alpha = y bound, beta = x_l).
** The intercepts are not taken from the formulas: for the stored slopes
** (wx, wy), x y - wx x - wy y is bilinear, so its max and min over the box
** are at the four vertices; c_up is that max rounded up, c_lo the min
** rounded down (directed rounding of each product and sum).  The lines then
** hold in real arithmetic for every (x, y) of the box, whatever rounding
** the slopes took.  Source: McCormick 1976; Xu et al. 2020 (auto_LiRPA).
*/
#include <math.h>
#include "relax_mul.h"
#include "round.h"

/* max (up) or min (!up) over the vertices of x y - wx x - wy y, outward rounded. */
static double vertex_extreme(int up, double xl, double xu, double yl, double yu, double wx, double wy)
{
  double vx[2] = {xl, xu}, vy[2] = {yl, yu}, best = up ? -HUGE_VAL : HUGE_VAL;
  for (int s = 0; s < 2; s++)
    for (int t = 0; t < 2; t++) {
      double x = vx[s], y = vy[t], v;
      if (up) v = round_add_ru(round_add_ru(round_mul_ru(x, y), round_mul_ru(-wx, x)), round_mul_ru(-wy, y));
      else v = round_add_rd(round_add_rd(round_mul_rd(x, y), round_mul_rd(-wx, x)), round_mul_rd(-wy, y));
      best = up ? fmax(best, v) : fmin(best, v);
    }
  return best;
}

int relax_mul(double xl, double xu, double yl, double yu, mul_line *lo, mul_line *up)
{
  lo->wx = yl; lo->wy = xl;
  up->wx = yu; up->wy = xl;
  lo->c = vertex_extreme(0, xl, xu, yl, yu, lo->wx, lo->wy);
  up->c = vertex_extreme(1, xl, xu, yl, yu, up->wx, up->wy);
  return isfinite(lo->c) && isfinite(up->c);
}
