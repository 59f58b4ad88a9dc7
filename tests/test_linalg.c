/*
** src/linalg.c's transposed convolution (la_conv_backward, the CROWN and
** interval-Jacobian step through a CONV) against its definition, on random
** geometries: strides 1-3 (stride 2 takes the paired-tap path of col2im;
** kernels of 4+ taps at strides 1-2 the padded plane, col2im_pad), and the
** real nets' convs (cifar_base_kw's 4x4 stride 2, resnet_2b's 3x3 strides
** 1 and 2, one row and several: one row skips the gather of A),
** dilations 1-2, groups 1-2, odd and even kernels, asymmetric pads, and
** enough rows to span several chunks; and kernels 1 x kw of stride kw that
** tile the input rows (MatMul over tokens: col2im's direct path).  Ain is
** added to, so it starts random.
** The reference sums the same products in another order: each entry must be
** within 1e-13 of the sum of its terms' magnitudes (plus the start value's).
** The binary32 path (la_conv_backward_f_buf, --precision single) on the
** same geometries: every entry within gamma32_{opg+3} of its product
** terms' magnitudes (CROWN's slack for it, bounds/crown.c), and some entry
** further off than 1e-9 of them: without that slack term the bound would
** not cover the product's rounding.
*/
#include "testutil.h"
#include <math.h>
#include "linalg.h"

static double lurand(unsigned *s)
{
  *s = *s * 1103515245u + 12345u;
  return ((double)((*s >> 8) & 0xffff) / 32768.0) - 1.0;
}

/* Ain[r] += conv^T(A[r]) by the definition; mag[r] the sums of |terms|. */
static void naive(const cb_conv *g, const double *W, const double *A, size_t q, double *Ain, double *mag)
{
  int64_t cpg = g->cin / g->groups, opg = g->cout / g->groups, isz = g->cin * g->hin * g->win, osz = g->cout * g->hout * g->wout;
  for (size_t r = 0; r < q; r++)
    for (int64_t co = 0; co < g->cout; co++)
      for (int64_t oi = 0; oi < g->hout; oi++)
        for (int64_t oj = 0; oj < g->wout; oj++) {
          double a = A[r * (size_t)osz + (size_t)((co * g->hout + oi) * g->wout + oj)];
          for (int64_t c = 0; c < cpg; c++)
            for (int64_t ki = 0; ki < g->kh; ki++)
              for (int64_t kj = 0; kj < g->kw; kj++) {
                int64_t ii = oi * g->sh - g->pt + ki * g->dh, jj = oj * g->sw - g->pl + kj * g->dw;
                size_t x;
                double t;
                if (ii < 0 || ii >= g->hin || jj < 0 || jj >= g->win) continue;
                x = r * (size_t)isz + (size_t)(((co / opg * cpg + c) * g->hin + ii) * g->win + jj);
                t = a * W[((co * cpg + c) * g->kh + ki) * g->kw + kj];
                Ain[x] += t;
                mag[x] += fabs(t);
              }
        }
}

static double g_f32_worst, g_f32_max;   /* binary32 path: largest |error| / (gamma32_{opg+3} mag), and / mag */

static void check_geom(const cb_conv *gp, size_t q, unsigned *sp, int trial)
{
  cb_conv g = *gp;
  unsigned s = *sp;
  size_t nW, isz, osz;
  double *W, *A, *X, *Y, *R, *mag, *buf;
  nW = (size_t)(g.cout * (g.cin / g.groups) * g.kh * g.kw);
  isz = (size_t)(g.cin * g.hin * g.win); osz = (size_t)(g.cout * g.hout * g.wout);
  W = malloc(nW * sizeof *W); A = malloc(q * osz * sizeof *A); X = malloc(q * isz * sizeof *X);
  Y = malloc(q * isz * sizeof *Y); R = malloc(q * isz * sizeof *R); mag = calloc(q * isz, sizeof *mag);
  buf = malloc(la_conv_backward_need(&g, q) * sizeof *buf);
  assert_non_null(W); assert_non_null(A); assert_non_null(X); assert_non_null(Y); assert_non_null(R);
  assert_non_null(mag); assert_non_null(buf);
  for (size_t i = 0; i < nW; i++) W[i] = lurand(&s);
  for (size_t i = 0; i < q * osz; i++) A[i] = lurand(&s);
  for (size_t i = 0; i < q * isz; i++) { X[i] = lurand(&s); Y[i] = X[i]; R[i] = X[i]; mag[i] = fabs(X[i]); }
  assert_int_equal(la_conv_backward(&g, W, A, q, X), CB_OK);
  assert_int_equal(la_conv_backward_buf(&g, W, A, q, Y, buf), CB_OK);
  {   /* the binary32 path (--precision single): within its slack's gamma32_{opg+3} of the sum of |terms| */
    float *Wf = malloc(nW * sizeof *Wf);
    double *Z = malloc(q * isz * sizeof *Z), *bf = malloc(la_conv_backward_f_need(&g, q) * sizeof *bf);
    double *R2 = malloc(q * isz * sizeof *R2), *m2 = calloc(q * isz, sizeof *m2), *A2 = malloc(q * osz * sizeof *A2);
    size_t opg = (size_t)(g.cout / g.groups);
    double gam = (double)(opg + 3) * 0x1p-24 / (1 - (double)(opg + 3) * 0x1p-24);
    assert_non_null(Wf); assert_non_null(Z); assert_non_null(bf); assert_non_null(R2); assert_non_null(m2); assert_non_null(A2);
    for (size_t i = 0; i < q * osz; i++) A2[i] = A[i] * (1 + 0x1p-30 * (double)(i % 97)) + 0x1p-40;   /* not exact in binary32 */
    for (size_t i = 0; i < nW; i++) Wf[i] = (float)W[i];
    for (size_t i = 0; i < q * isz; i++) Z[i] = R2[i] = R[i];
    assert_int_equal(la_conv_backward_f_buf(&g, Wf, A2, q, Z, bf), CB_OK);
    naive(&g, W, A2, q, R2, m2);
    for (size_t i = 0; i < q * isz; i++) {
      double e = fabs(Z[i] - R2[i]), m = m2[i];   /* the product's terms (m2 starts at 0) */
      if (!(e <= gam * m + 1e-13 * (m + fabs(R[i]))))
        fail_msg("trial %d binary32: entry %zu is %.17g, by definition %.17g: error %.3g above gamma32_%zu %.3g", trial, i,
                 Z[i], R2[i], e, opg + 3, gam * m);
      if (m > 0) { g_f32_worst = fmax(g_f32_worst, e / (gam * m)); g_f32_max = fmax(g_f32_max, e / m); }
    }
    free(Wf); free(Z); free(bf); free(R2); free(m2); free(A2);
  }
  naive(&g, W, A, q, R, mag);
  for (size_t i = 0; i < q * isz; i++) {
    if (fabs(X[i] - R[i]) > 1e-13 * mag[i] || X[i] != Y[i])
    fail_msg("trial %d (cin %ld cout %ld groups %ld k %ldx%ld s %ldx%ld d %ldx%ld pads %ld %ld %ld %ld in %ldx%ld, %zu rows): "
         "entry %zu is %.17g, by definition %.17g (buffered %.17g)", trial, (long)g.cin, (long)g.cout, (long)g.groups,
         (long)g.kh, (long)g.kw, (long)g.sh, (long)g.sw, (long)g.dh, (long)g.dw, (long)g.pt, (long)g.pl, (long)g.pb,
         (long)g.pr, (long)g.hin, (long)g.win, q, i, X[i], R[i], Y[i]);
  }
  free(W); free(A); free(X); free(Y); free(R); free(mag); free(buf);
  *sp = s;
}

static void test_conv_backward_random(void **state)
{
  (void)state;
  unsigned s = 12345;
  /* cin, cout, k, stride, pad, in: the real nets' convs (trials 60-65) */
  static const int64_t real[6][6] = {{3, 8, 4, 2, 1, 32}, {8, 16, 4, 2, 1, 16}, {3, 8, 3, 2, 1, 32},
                                     {8, 16, 3, 2, 1, 16}, {16, 16, 3, 1, 1, 8}, {16, 16, 3, 1, 0, 7}};
  for (int trial = 0; trial < 66; trial++) {
    cb_conv g;
    size_t q = 1 + (size_t)(trial % 7) * 3;
    g.groups = 1 + trial % 2;
    g.cin = g.groups * (1 + trial % 3);
    g.cout = g.groups * (1 + (trial / 3) % 3);
    g.kh = 1 + trial % 4; g.kw = 1 + (trial / 4) % 5;
    g.sh = 1 + (trial / 2) % 3; g.sw = trial % 3 == 0 ? 1 : 2 + (trial / 7) % 2;
    g.dh = 1 + (trial / 5) % 2; g.dw = trial % 4 == 1 ? 2 : 1;
    g.pt = trial % 3; g.pb = (trial / 3) % 2; g.pl = (trial / 2) % 3; g.pr = trial % 2;
    g.hin = 5 + trial % 9; g.win = 4 + (trial * 7) % 11;
    if (trial >= 60) {
      const int64_t *e = real[trial - 60];
      q = trial % 2 ? 1 : 3;
      g.groups = 1; g.cin = e[0]; g.cout = e[1]; g.kh = g.kw = e[2]; g.sh = g.sw = e[3];
      g.pt = g.pb = g.pl = g.pr = e[4]; g.dh = g.dw = 1; g.hin = g.win = e[5];
    }
    g.hout = (g.hin + g.pt + g.pb - g.dh * (g.kh - 1) - 1) / g.sh + 1;
    g.wout = (g.win + g.pl + g.pr - g.dw * (g.kw - 1) - 1) / g.sw + 1;
    if (g.hout < 1 || g.wout < 1) continue;
    check_geom(&g, q, &s, trial);
  }
  /* the binary32 path's slack is needed: its error exceeds what double's
     gamma (the slack without the binary32 term, ~1e-14 here) covers */
  printf("binary32 transposed conv: largest error %.3g of the sum of |terms| (%.3g of gamma32)\n", g_f32_max, g_f32_worst);
  assert_true(g_f32_max > 1e-9);
  assert_true(g_f32_worst <= 1);
}

/* Kernels 1 x kw with stride kw tiling each input row (kh 1, no pad): the
   loader's MatMul over tokens and its reductions, col2im's direct path. */
static void test_conv_backward_rows(void **state)
{
  unsigned s = 777;
  (void)state;
  for (int trial = 0; trial < 24; trial++) {
    cb_conv g = {0};
    g.groups = 1 + trial % 2;
    g.cin = g.groups * (1 + trial % 3);
    g.cout = g.groups * (1 + (trial / 3) % 4);
    g.kh = 1; g.kw = 1 + (trial * 5) % 17; g.sh = 1; g.sw = g.kw; g.dh = 1 + trial % 2; g.dw = 1;
    g.hin = g.hout = 1 + trial % 6; g.wout = 1 + (trial / 6) % 3; g.win = g.wout * g.kw;
    check_geom(&g, 1 + (size_t)(trial % 5) * 4, &s, trial);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_conv_backward_random), cmocka_unit_test(test_conv_backward_rows),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
