/*
** Dyadic rationals m * 2^e (a GMP integer and an exponent): every double is
** one, and sums, products and comparisons of them are exact.  Shared by the
** exact evaluator (exact.c) and the proof checker (proofchk.c), the only two
** files that use GMP.
*/
#ifndef CB_DYADIC_H
#define CB_DYADIC_H

#include <gmp.h>

typedef struct dy { mpz_t m; long e; } dy;   /* m * 2^e */

static inline void dy_init(dy *a) { mpz_init(a->m); a->e = 0; }
static inline void dy_clear(dy *a) { mpz_clear(a->m); }
static inline void dy_set(dy *r, const dy *a) { if (r != a) { mpz_set(r->m, a->m); r->e = a->e; } }

/* r = a + b exactly (r may alias a or b); t is scratch. */
static inline void dy_add(dy *r, const dy *a, const dy *b, mpz_t t)
{
  if (!mpz_sgn(b->m)) { dy_set(r, a); return; }
  if (!mpz_sgn(a->m)) { dy_set(r, b); return; }
  if (a->e <= b->e) {
    mpz_mul_2exp(t, b->m, (mp_bitcnt_t)(b->e - a->e));
    mpz_add(r->m, a->m, t);
    r->e = a->e;
  } else {
    mpz_mul_2exp(t, a->m, (mp_bitcnt_t)(a->e - b->e));
    mpz_add(r->m, t, b->m);
    r->e = b->e;
  }
}

/* The sign of a - b; t is scratch. */
static inline int dy_cmp(const dy *a, const dy *b, mpz_t t)
{
  int sa = mpz_sgn(a->m), sb = mpz_sgn(b->m);
  if (!sa || !sb || sa != sb) return sa > sb ? 1 : sa < sb ? -1 : 0;
  if (a->e <= b->e) { mpz_mul_2exp(t, b->m, (mp_bitcnt_t)(b->e - a->e)); return mpz_cmp(a->m, t); }
  mpz_mul_2exp(t, a->m, (mp_bitcnt_t)(a->e - b->e));
  return mpz_cmp(t, b->m);
}

#endif
