/*
** Elementwise activations: one node kind (CB_ACT) with a sub-type table, in
** the spirit of ggml's unary op.  Everything an analyzer needs to know about
** an activation's math is a row of cb_act_info (act.c); its linear
** relaxation is the matching row of bounds/relax.c.  Analyzers never switch
** over the sub-type.
**
** Adding an activation: a value below, its row in act.c, its relaxation row
** in bounds/relax.c, its ONNX mapping line in src/onnx_ops.c; tests/
** test_kinds.c walks every row through every analyzer.
**
** Parameters live on the node (cb_node.p.act): alpha (LeakyReLU, ELU,
** HardSigmoid, SELU; POW's exponent), beta (HardSigmoid), gamma (SELU),
** lo/hi (Clip).  Every function below reads them from the node.
**
** Rows that are not monotone or not defined on all of R (SiLU, GELU,
** HardSwish, Abs, Log, Pow) also give their curvature map (`shape`) and
** their domain: src/act_shape.c turns the map into rigorous ranges, ranges
** of f' and lines of any slope (bounds/relax.c's relaxations of these rows).
*/
#ifndef CB_ACT_H
#define CB_ACT_H

typedef enum cb_act {
  CB_ACT_RELU,        /* y = max(x, 0)                                  */
  CB_ACT_LEAKY_RELU,  /* y = x if x >= 0 else alpha x                   */
  CB_ACT_SIGMOID,     /* y = 1 / (1 + exp(-x))                          */
  CB_ACT_TANH,        /* y = tanh(x)                                    */
  CB_ACT_CLIP,        /* y = min(max(x, lo), hi)  (ReLU6 = Clip(0, 6))  */
  CB_ACT_ELU,         /* y = x if x > 0 else alpha (exp(x) - 1)         */
  CB_ACT_SOFTPLUS,    /* y = log(1 + exp(x))                            */
  CB_ACT_EXP,         /* y = exp(x)                                     */
  CB_ACT_HARD_SIGMOID,/* y = max(0, min(1, alpha x + beta))             */
  CB_ACT_ERF,         /* y = erf(x) = 2/sqrt(pi) int_0^x exp(-t^2) dt   */
  CB_ACT_SOFTSIGN,    /* y = x / (1 + |x|)                              */
  CB_ACT_SELU,        /* y = gamma (x if x > 0 else alpha (exp(x) - 1)) */
  CB_ACT_SILU,        /* y = x sigmoid(x)  (Swish; Sigmoid then Mul)    */
  CB_ACT_GELU,        /* y = x Phi(x) = x/2 (1 + erf(x/sqrt 2))         */
  CB_ACT_GELU_TANH,   /* y = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
  CB_ACT_HARD_SWISH,  /* y = x clip(x/6 + 1/2, 0, 1)                    */
  CB_ACT_ABS,         /* y = |x|                                        */
  CB_ACT_LOG,         /* y = log(x), x > 0                              */
  CB_ACT_POW,         /* y = x^alpha, alpha a constant (Sqrt: 1/2, Reciprocal: -1) */
  CB_ACT_COUNT
} cb_act;

/* How far the double value fl(f(x)) may be from the real f(x). */
typedef enum cb_act_err {
  CB_ACT_ERR_EXACT,   /* no rounding: f only compares (ReLU, Clip)      */
  CB_ACT_ERR_ROUND,   /* one correctly rounded product: |err| <= u |y|  */
  CB_ACT_ERR_LIBM,    /* libm: |err| <= 16 u |y| + 2^-1074 (see act.c)  */
  CB_ACT_ERR_COND     /* libm after a rounded argument that f amplifies
                         (GELU_TANH's tails): |err| <= 2^-40 |y| + 2^-1074 */
} cb_act_err;

struct cb_node;

typedef struct cb_act_info {
  const char *name;              /* "RELU", as cb_kind names are written */
  int piecewise_linear;          /* f is made of lines (exact in rationals) */
  cb_act_err err;                /* the forward-error rule of f */
  /* nondecreasing for this node's parameters (IBP needs it) */
  int (*monotone)(const struct cb_node *n);
  double (*f)(const struct cb_node *n, double x);                 /* the forward pass's f */
  /* f'(x) given y = f(x) (a one-sided value at kinks, as PyTorch's autograd) */
  double (*df)(const struct cb_node *n, double x, double y);
  /* [dl, dh] contains f'(t) for every real t in [l, u] (one-sided at kinks), rounded outward */
  void (*drange)(const struct cb_node *n, double l, double u, double *dl, double *dh);
  /* sup |f'|, an upper bound; +inf if f' is unbounded (Exp: the Lipschitz analysis refuses it) */
  double (*lip)(const struct cb_node *n);
  /* NULL for the monotone rows defined on R.  Otherwise the curvature map:
     breakpoints bp[0] < ... < bp[k-1] (k <= 3, returned) and per piece
     curv[0..k] = +1 convex, -1 concave, 0 linear, f' monotone on each piece
     (act_shape.c relies on it; one-sided f' at the breakpoints) */
  int (*shape)(const struct cb_node *n, double *bp, signed char *curv);
  /* NULL: all of R.  Otherwise 1 iff f is defined and finite on [l, u] */
  int (*domain)(const struct cb_node *n, double l, double u);
} cb_act_info;

extern const cb_act_info cb_act_table[CB_ACT_COUNT];

/* act_shape.c: for rows with a shape, in real arithmetic over [l, u] (inside
   the domain, finite):
   act_shape_offset: b with f(x) <= s x + b (upper) or >= (lower) on [l, u],
     the tightest up to rounding; *xs (may be NULL) the x where it touches;
   act_shape_range: yl <= f(x) <= yh;
   act_shape_drange: dl <= f'(x) <= dh (one-sided at breakpoints). */
double act_shape_offset(const struct cb_node *n, double s, double l, double u, int upper, double *xs);
void act_shape_range(const struct cb_node *n, double l, double u, double *yl, double *yh);
void act_shape_drange(const struct cb_node *n, double l, double u, double *dl, double *dh);

#endif
