/*
** Linear relaxation of a product z = x y of two bounded scalars
** (relax_mul.c): McCormick's planes, the ones auto_LiRPA's BoundMul uses,
**   lower  z >= y_l x + x_l y + c_lo,   upper  z <= y_u x + x_l y + c_up,
** with the intercepts recomputed for the stored slopes with directed
** rounding, so the lines hold in real arithmetic on the whole box.
** Shared by CROWN (crown.c) and the tests.
*/
#ifndef CB_RELAX_MUL_H
#define CB_RELAX_MUL_H

typedef struct mul_line { double wx, wy, c; } mul_line;

/* Lines of x y over [xl, xu] x [yl, yu] (finite); 0 if an intercept is not finite. */
int relax_mul(double xl, double xu, double yl, double yu, mul_line *lo, mul_line *up);

/* alpha-CROWN's planes: per side a convex combination (weights rl, ru in [0, 1],
   clamped; 1: relax_mul's planes) of McCormick's two planes, intercepts as
   relax_mul's (valid on the box for any weights); 0 if one is not finite. */
int relax_mul_mix(double xl, double xu, double yl, double yu, double rl, double ru, mul_line *lo, mul_line *up);

#endif
