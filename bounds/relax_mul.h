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

#endif
