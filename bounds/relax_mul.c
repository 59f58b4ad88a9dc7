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

/*
** alpha-CROWN's planes (auto_LiRPA's BoundMul alpha, MulHelper.
** interpolated_relaxation): the slopes of a convex combination of the two
** McCormick planes on each side,
**   lower  rl (yl, xl) + (1 - rl) (yu, xu)   [(x - xl)(y - yl) >= 0, (x - xu)(y - yu) >= 0],
**   upper  ru (yu, xl) + (1 - ru) (yl, xu)   [(x - xl)(y - yu) <= 0, (x - xu)(y - yl) <= 0],
** rl, ru clamped to [0, 1].  The intercepts are vertex_extreme's, as
** relax_mul's: for ANY stored slopes x y - wx x - wy y is bilinear, so the
** lines hold on the whole box whatever rl, ru and the slopes' rounding;
** rl = ru = 1 gives relax_mul's planes bit for bit.
*/
int relax_mul_mix(double xl, double xu, double yl, double yu, double rl, double ru, mul_line *lo, mul_line *up)
{
  rl = rl > 1 ? 1 : rl > 0 ? rl : 0;   /* NaN: 0 */
  ru = ru > 1 ? 1 : ru > 0 ? ru : 0;
  lo->wx = rl == 1 ? yl : rl * yl + (1 - rl) * yu;
  lo->wy = rl == 1 ? xl : rl * xl + (1 - rl) * xu;
  up->wx = ru == 1 ? yu : ru * yu + (1 - ru) * yl;
  up->wy = ru == 1 ? xl : ru * xl + (1 - ru) * xu;
  lo->c = vertex_extreme(0, xl, xu, yl, yu, lo->wx, lo->wy);
  up->c = vertex_extreme(1, xl, xu, yl, yu, up->wx, up->wy);
  return isfinite(lo->c) && isfinite(up->c);
}
