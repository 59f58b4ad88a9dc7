/*
** VNNLIB reader: tokens -> atoms (linear constraints) -> DNF of the asserts
** -> boxes with output conjunctions (see vnnlib.h for the meaning).
**
** Workload: ACAS Xu files have ~20 atoms; CIFAR ones ~450,000 single-atom
** asserts, so a conjunction with a one-term DNF is appended in place (linear
** time); only conjunctions of real disjunctions form cross products, capped
** at MAX_TERMS terms.  Constants are intervals [dn, up] computed with
** round.h's RU / RD (error-free transformations: two-sum, fma), so no
** rounding mode is assumed except while strtod reads a number.
*/
#include <ctype.h>
#include <fenv.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include "vnnlib.h"
#include "round.h"

#define MAX_TERMS 65536
#define MAX_VARS 100000000

typedef enum tok { T_LP, T_RP, T_SYM, T_EOF } tok;
typedef enum akind { A_X, A_Y, A_TRUE, A_FALSE } akind;

typedef struct atom {     /* sum_k coef_k v_k <= b  (< if strict), b in [b_dn, b_up] */
  akind kind;
  int line, col, strict;
  size_t off, n;          /* (var, coef) pairs in P->var/P->coef */
  double b_dn, b_up;
  int plain;              /* "X_i op literal" or "literal op X_i": the outer bound is the
                             literal rounded once (RU or RD), nothing more */
  const char *dec;        /* plain, non-strict, and the literal is no double: the literal
                             (dec_len chars of the text), the exact bound; else NULL */
  size_t dec_len;
} atom;

typedef struct term { size_t *a, n, cap; } term;   /* conjunction of atom indices */
typedef struct dnf { term *t; size_t n, cap; } dnf;

typedef struct lin {      /* sum coef_k var_k + c, c in [c_dn, c_up]; var = 2 i (X_i) or 2 j + 1 (Y_j) */
  size_t n, cap;
  size_t *var;
  double *coef, c_dn, c_up;
  const char *num;        /* the term is this one decimal literal (num_len chars), else NULL */
  size_t num_len;
} lin;

typedef struct parser {
  const char *path, *p, *end;
  int line, col;          /* of the next character */
  tok t;                  /* current token */
  const char *s; size_t len;  /* its text (T_SYM) */
  int tline, tcol;        /* its position */
  int cline, ccol;        /* position of the current command's '(' */
  cb_error *err;
  int rc;
  unsigned char *decl[2]; size_t ndecl[2], cdecl[2]; int dline[2];
  atom *atoms; size_t na, ca;
  size_t *var; double *coef; size_t nv, cv;
} parser;

static int fail(parser *P, int line, int col, cb_status st, const char *fmt, ...)
  __attribute__((format(printf, 5, 6)));
static int fail(parser *P, int line, int col, cb_status st, const char *fmt, ...)
{
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (P->rc == CB_OK) P->rc = cb_error_set(P->err, st, "%s:%d:%d: %s", P->path, line, col, msg);
  return P->rc;
}

static int oom(parser *P) { return fail(P, P->tline, P->tcol, CB_ENOMEM, "out of memory"); }

/* Grows *p (element size es) to hold at least n elements. */
static int grow(void **p, size_t *cap, size_t n, size_t es)
{
  size_t c = *cap ? *cap : 8;
  void *q;
  if (n <= *cap) return 1;
  while (c < n) c *= 2;
  if (!(q = cb_alloc(c * es))) return 0;
  if (*p) memcpy(q, *p, *cap * es);
  cb_free(*p);
  *p = q;
  *cap = c;
  return 1;
}

/* ---- lexer ---- */

static void next(parser *P)
{
  for (;;) {
    while (P->p < P->end && isspace((unsigned char)*P->p)) {
      if (*P->p == '\n') { P->line++; P->col = 1; } else P->col++;
      P->p++;
    }
    if (P->p < P->end && *P->p == ';') { while (P->p < P->end && *P->p != '\n') P->p++; continue; }
    break;
  }
  P->tline = P->line; P->tcol = P->col;
  if (P->p >= P->end) { P->t = T_EOF; return; }
  if (*P->p == '(' || *P->p == ')') { P->t = *P->p == '(' ? T_LP : T_RP; P->p++; P->col++; return; }
  P->t = T_SYM; P->s = P->p;
  while (P->p < P->end && !isspace((unsigned char)*P->p) && *P->p != '(' && *P->p != ')' && *P->p != ';') { P->p++; P->col++; }
  P->len = (size_t)(P->p - P->s);
}

static int is(parser *P, const char *w) { return P->t == T_SYM && P->len == strlen(w) && !memcmp(P->s, w, P->len); }

static const char *tokname(parser *P, char *buf, size_t n)
{
  if (P->t == T_EOF) return "end of file";
  if (P->t != T_SYM) return P->t == T_LP ? "'('" : "')'";
  snprintf(buf, n, "'%.*s'", (int)(P->len > 40 ? 40 : P->len), P->s);
  return buf;
}

static int expect(parser *P, tok t, const char *what)
{
  char b[64];
  if (P->t == t) { next(P); return CB_OK; }
  if (P->t == T_EOF) return fail(P, P->cline, P->ccol, CB_EFORMAT, "unbalanced parentheses: this '(' is never closed (end of file where %s was expected)", what);
  return fail(P, P->tline, P->tcol, CB_EFORMAT, "expected %s, found %s", what, tokname(P, b, sizeof b));
}

/* Reads the current symbol as a decimal number into [*lo, *hi]; 0 if it is not one. */
static int number(parser *P, double *lo, double *hi)
{
  char buf[512];
  size_t i = 0, digits = 0;
  int mode = fegetround();
  if (P->len >= sizeof buf) return 0;
  memcpy(buf, P->s, P->len); buf[P->len] = 0;
  if (buf[i] == '-' || buf[i] == '+') i++;
  while (isdigit((unsigned char)buf[i])) { i++; digits++; }
  if (buf[i] == '.') { i++; while (isdigit((unsigned char)buf[i])) { i++; digits++; } }
  if (!digits) return 0;
  if (buf[i] == 'e' || buf[i] == 'E') {
    i++;
    if (buf[i] == '-' || buf[i] == '+') i++;
    if (!isdigit((unsigned char)buf[i])) return 0;
    while (isdigit((unsigned char)buf[i])) i++;
  }
  if (buf[i]) return 0;
  fesetround(FE_DOWNWARD); *lo = strtod(buf, NULL);
  fesetround(FE_UPWARD); *hi = strtod(buf, NULL);
  fesetround(mode);
  return 1;
}

/* ---- linear terms ---- */

static void lin_free(lin *L) { cb_free(L->var); cb_free(L->coef); memset(L, 0, sizeof *L); }

static int lin_add(parser *P, lin *L, size_t v, double c)
{
  for (size_t k = 0; k < L->n; k++) if (L->var[k] == v) {
    double s = L->coef[k] + c;
    if (round_two_sum_err(L->coef[k], c, s) != 0 || !isfinite(s))
      return fail(P, P->tline, P->tcol, CB_EUNSUP, "coefficient arithmetic is not exact in binary64");
    L->coef[k] = s;
    return CB_OK;
  }
  size_t cv = L->cap;
  if (!grow((void **)&L->var, &cv, L->n + 1, sizeof *L->var) ||
      !grow((void **)&L->coef, &L->cap, L->n + 1, sizeof *L->coef)) return oom(P);
  L->var[L->n] = v; L->coef[L->n++] = c;
  return CB_OK;
}

/* L += s * R (s exact) */
static int lin_axpy(parser *P, lin *L, double s, const lin *R)
{
  double a = s >= 0 ? round_mul_rd(s, R->c_dn) : round_mul_rd(s, R->c_up), b = s >= 0 ? round_mul_ru(s, R->c_up) : round_mul_ru(s, R->c_dn);
  L->c_dn = round_add_rd(L->c_dn, a);
  L->c_up = round_add_ru(L->c_up, b);
  if (!isfinite(L->c_dn) || !isfinite(L->c_up)) return fail(P, P->tline, P->tcol, CB_EVALUE, "constant out of range");
  for (size_t k = 0; k < R->n; k++) {
    double c = s * R->coef[k];
    if (fma(s, R->coef[k], -c) != 0 || !isfinite(c))
      return fail(P, P->tline, P->tcol, CB_EUNSUP, "coefficient product is not exact in binary64");
    if (lin_add(P, L, R->var[k], c)) return P->rc;
  }
  return CB_OK;
}

/* L *= [k_dn, k_up] */
static int lin_scale(parser *P, lin *L, double k_dn, double k_up, int line, int col)
{
  double p[4] = {round_mul_rd(k_dn, L->c_dn), round_mul_rd(k_dn, L->c_up), round_mul_rd(k_up, L->c_dn), round_mul_rd(k_up, L->c_up)};
  double q[4] = {round_mul_ru(k_dn, L->c_dn), round_mul_ru(k_dn, L->c_up), round_mul_ru(k_up, L->c_dn), round_mul_ru(k_up, L->c_up)};
  if (L->n && k_dn != k_up) return fail(P, line, col, CB_EUNSUP, "coefficient is not exactly representable in binary64");
  L->c_dn = fmin(fmin(p[0], p[1]), fmin(p[2], p[3]));
  L->c_up = fmax(fmax(q[0], q[1]), fmax(q[2], q[3]));
  if (!isfinite(L->c_dn) || !isfinite(L->c_up)) return fail(P, line, col, CB_EVALUE, "constant out of range");
  for (size_t k = 0; k < L->n; k++) {
    double c = k_dn * L->coef[k];
    if (fma(k_dn, L->coef[k], -c) != 0 || !isfinite(c))
      return fail(P, line, col, CB_EUNSUP, "coefficient product is not exact in binary64");
    L->coef[k] = c;
  }
  return CB_OK;
}

static int variable(parser *P, size_t *v)
{
  int side = P->s[0] == 'X' ? 0 : P->s[0] == 'Y' ? 1 : -1;
  size_t i = 0;
  if (side < 0 || P->len < 3 || P->s[1] != '_') return -1;
  for (size_t k = 2; k < P->len; k++) {
    if (!isdigit((unsigned char)P->s[k]) || i > MAX_VARS) return -1;
    i = i * 10 + (size_t)(P->s[k] - '0');
  }
  if (i >= P->ndecl[side] || !P->decl[side][i])
    return fail(P, P->tline, P->tcol, CB_EFORMAT, "undeclared variable %.*s", (int)P->len, P->s);
  *v = 2 * i + (size_t)side;
  return CB_OK;
}

static int term_expr(parser *P, lin *L);

/* (op t1 t2 ...) after '(' with op read: + - * */
static int term_app(parser *P, lin *L, char op, int line, int col)
{
  lin R = {0};
  int nargs = 0, have_var = 0;
  double k_dn = 1, k_up = 1;
  lin V = {0};
  next(P);
  while (P->t != T_RP && P->rc == CB_OK) {
    if (P->t == T_EOF) { expect(P, T_RP, "')'"); break; }
    memset(&R, 0, sizeof R);
    if (term_expr(P, &R)) { lin_free(&R); break; }
    if (op == '*') {
      if (R.n && have_var) { fail(P, line, col, CB_EUNSUP, "product of two variables is not linear"); lin_free(&R); break; }
      if (R.n) { V = R; have_var = 1; continue; }
      double a[4] = {round_mul_rd(k_dn, R.c_dn), round_mul_rd(k_dn, R.c_up), round_mul_rd(k_up, R.c_dn), round_mul_rd(k_up, R.c_up)};
      double b[4] = {round_mul_ru(k_dn, R.c_dn), round_mul_ru(k_dn, R.c_up), round_mul_ru(k_up, R.c_dn), round_mul_ru(k_up, R.c_up)};
      k_dn = fmin(fmin(a[0], a[1]), fmin(a[2], a[3]));
      k_up = fmax(fmax(b[0], b[1]), fmax(b[2], b[3]));
    } else lin_axpy(P, L, op == '-' && nargs > 0 ? -1.0 : 1.0, &R);
    lin_free(&R);
    nargs++;
  }
  if (P->rc == CB_OK && nargs + have_var == 0) fail(P, line, col, CB_EFORMAT, "operator '%c' needs arguments", op);
  if (P->rc == CB_OK && op == '-' && nargs == 1) lin_scale(P, L, -1, -1, line, col);
  if (P->rc == CB_OK && op == '*') {
    if (!have_var) { V.c_dn = 1; V.c_up = 1; }
    if (!lin_scale(P, &V, k_dn, k_up, line, col)) lin_axpy(P, L, 1, &V);
  }
  lin_free(&V);
  if (P->rc == CB_OK) next(P);
  return P->rc;
}

/* A linear term: number, variable or (+|-|* ...); L starts at zero. */
static int term_expr(parser *P, lin *L)
{
  char b[64];
  if (P->t == T_SYM) {
    double lo, hi;
    size_t v = 0;
    if (number(P, &lo, &hi)) {
      if (!isfinite(lo) || !isfinite(hi)) return fail(P, P->tline, P->tcol, CB_EVALUE, "constant %.*s out of range", (int)P->len, P->s);
      L->c_dn = lo; L->c_up = hi;
      L->num = P->s; L->num_len = P->len;
    } else {
      int rc = variable(P, &v);
      if (rc < 0 && P->rc == CB_OK)
        return fail(P, P->tline, P->tcol, CB_EFORMAT, "expected a number or a variable X_i/Y_j, found %s", tokname(P, b, sizeof b));
      if (rc) return P->rc;
      if (lin_add(P, L, v, 1)) return P->rc;
    }
    next(P);
    return CB_OK;
  }
  if (P->t != T_LP) return fail(P, P->tline, P->tcol, CB_EFORMAT, "expected a term, found %s", tokname(P, b, sizeof b));
  next(P);
  int line = P->tline, col = P->tcol;
  if (is(P, "+") || is(P, "-") || is(P, "*")) return term_app(P, L, P->s[0], line, col);
  return fail(P, line, col, CB_EFORMAT, "unknown operator %s in a term", tokname(P, b, sizeof b));
}

/* ---- atoms and DNF ---- */

static void dnf_free(dnf *D)
{
  for (size_t i = 0; i < D->n; i++) cb_free(D->t[i].a);
  cb_free(D->t);
  memset(D, 0, sizeof *D);
}

static int term_push(term *t, size_t a)
{
  if (!grow((void **)&t->a, &t->cap, t->n + 1, sizeof *t->a)) return 0;
  t->a[t->n++] = a;
  return 1;
}

static int dnf_push(dnf *D, term t) { if (!grow((void **)&D->t, &D->cap, D->n + 1, sizeof *D->t)) return 0; D->t[D->n++] = t; return 1; }

/* D := D and F (F is consumed). */
static int dnf_and(parser *P, dnf *D, dnf *F)
{
  dnf R = {0};
  if (F->n == 1 || D->n == 1) {
    dnf *big = F->n == 1 ? D : F, *one = F->n == 1 ? F : D;
    for (size_t i = 0; i < big->n; i++)
      for (size_t k = 0; k < one->t[0].n; k++) if (!term_push(&big->t[i], one->t[0].a[k])) return oom(P);
    if (big == F) { dnf_free(D); *D = *F; memset(F, 0, sizeof *F); } else dnf_free(F);
    return CB_OK;
  }
  if (D->n * F->n > MAX_TERMS) return fail(P, P->tline, P->tcol, CB_EUNSUP, "disjunctive normal form has more than %d terms", MAX_TERMS);
  for (size_t i = 0; i < D->n; i++)
    for (size_t j = 0; j < F->n; j++) {
      term t = {0};
      for (size_t k = 0; k < D->t[i].n; k++) if (!term_push(&t, D->t[i].a[k])) { cb_free(t.a); dnf_free(&R); return oom(P); }
      for (size_t k = 0; k < F->t[j].n; k++) if (!term_push(&t, F->t[j].a[k])) { cb_free(t.a); dnf_free(&R); return oom(P); }
      if (!dnf_push(&R, t)) { cb_free(t.a); dnf_free(&R); return oom(P); }
    }
  dnf_free(D); dnf_free(F);
  *D = R;
  return CB_OK;
}

/* Stores the atom L (op) R as  sum a v <= b; returns its index in *out. */
static int make_atom(parser *P, lin *L, lin *R, int sign, int strict, int line, int col, size_t *out)
{
  atom a = {A_TRUE, line, col, strict, P->nv, 0, 0, 0, 0, NULL, 0};
  int sides = 0;
  if (lin_axpy(P, L, -1, R)) return P->rc;        /* L - R (op) 0 */
  if (sign < 0 && lin_scale(P, L, -1, -1, line, col)) return P->rc;  /* >=: R - L <= 0 */
  a.b_dn = -L->c_up; a.b_up = -L->c_dn;
  for (size_t k = 0; k < L->n; k++) {
    if (L->coef[k] == 0) continue;
    sides |= 1 << (L->var[k] & 1);
    size_t cv = P->cv;
    if (!grow((void **)&P->var, &cv, P->nv + 1, sizeof *P->var) ||
        !grow((void **)&P->coef, &P->cv, P->nv + 1, sizeof *P->coef)) return oom(P);
    P->var[P->nv] = L->var[k] / 2; P->coef[P->nv++] = L->coef[k];
    a.n++;
  }
  if (sides == 3) return fail(P, line, col, CB_EUNSUP, "constraint mixes input (X) and output (Y) variables");
  if (sides == 1 && a.n != 1) return fail(P, line, col, CB_EUNSUP, "input constraints must bound one variable (X_i op constant)");
  if (sides) a.kind = sides == 1 ? A_X : A_Y;
  else if (strict ? a.b_dn > 0 : a.b_dn >= 0) a.kind = A_TRUE;
  else if (strict ? a.b_up <= 0 : a.b_up < 0) a.kind = A_FALSE;
  else return fail(P, line, col, CB_EUNSUP, "constant comparison cannot be decided in binary64");
  if (!grow((void **)&P->atoms, &P->ca, P->na + 1, sizeof *P->atoms)) return oom(P);
  P->atoms[P->na] = a;
  *out = P->na++;
  return CB_OK;
}

static int formula(parser *P, dnf *D);

/* Is L the input variable X_i alone (coefficient 1, no constant)? */
static int bare_input(const lin *L)
{
  return L->n == 1 && !(L->var[0] & 1) && L->coef[0] == 1 && L->c_dn == 0 && L->c_up == 0;
}

/* (and F...) / (or F...) after the operator. */
static int connective(parser *P, dnf *D, int is_and, int line, int col)
{
  int n = 0;
  term t0 = {0};
  next(P);
  if (is_and && !dnf_push(D, t0)) return oom(P);
  while (P->t != T_RP && P->rc == CB_OK) {
    dnf F = {0};
    if (P->t == T_EOF) return expect(P, T_RP, "')'");
    if (formula(P, &F)) { dnf_free(&F); break; }
    if (is_and) { dnf_and(P, D, &F); dnf_free(&F); }   /* F is empty unless dnf_and failed */
    else {
      for (size_t i = 0; i < F.n; i++) if (!dnf_push(D, F.t[i])) { oom(P); break; } else F.t[i].a = NULL;
      if (D->n > MAX_TERMS) fail(P, line, col, CB_EUNSUP, "disjunctive normal form has more than %d terms", MAX_TERMS);
      dnf_free(&F);
    }
    n++;
  }
  if (P->rc == CB_OK && !n) fail(P, line, col, CB_EFORMAT, "'%s' needs at least one argument", is_and ? "and" : "or");
  if (P->rc == CB_OK) next(P);
  return P->rc;
}

/* A boolean formula: (and ...), (or ...) or a comparison; D starts empty. */
static int formula(parser *P, dnf *D)
{
  char b[64];
  int line, col;
  if (P->t != T_LP) return fail(P, P->tline, P->tcol, CB_EFORMAT, "expected '(' starting a constraint, found %s", tokname(P, b, sizeof b));
  next(P);
  line = P->tline; col = P->tcol;
  if (is(P, "and") || is(P, "or")) return connective(P, D, is(P, "and"), line, col);
  if (is(P, "<=") || is(P, ">=") || is(P, "<") || is(P, ">")) {
    int sign = P->s[0] == '<' ? 1 : -1, strict = P->len == 1;
    lin L = {0}, R = {0};
    term t = {0};
    size_t a = 0;
    next(P);
    if (!term_expr(P, &L) && !term_expr(P, &R) && !expect(P, T_RP, "')' closing the comparison")) {
      const lin *lit = bare_input(&L) ? &R : bare_input(&R) ? &L : NULL;
      int plain = lit && lit->num;    /* read before make_atom changes L */
      const char *dec = plain && !strict && lit->c_dn != lit->c_up ? lit->num : NULL;
      size_t dec_len = dec ? lit->num_len : 0;
      if (!make_atom(P, &L, &R, sign, strict, line, col, &a)) {
        P->atoms[a].plain = plain;
        P->atoms[a].dec = dec;        /* X_i <= d or X_i >= d exactly, for the decimal d */
        P->atoms[a].dec_len = dec_len;
      }
      if (P->rc == CB_OK && (!term_push(&t, a) || !dnf_push(D, t))) { cb_free(t.a); oom(P); }
    }
    lin_free(&L); lin_free(&R);
    return P->rc;
  }
  if (P->t == T_SYM) return fail(P, line, col, CB_EFORMAT, "unknown operator %s", tokname(P, b, sizeof b));
  return fail(P, line, col, CB_EFORMAT, "expected an operator, found %s", tokname(P, b, sizeof b));
}

static int declare(parser *P)
{
  char b[64];
  size_t i = 0;
  int side, line = P->tline, col = P->tcol;
  if (P->t != T_SYM) return fail(P, line, col, CB_EFORMAT, "expected a variable name, found %s", tokname(P, b, sizeof b));
  side = P->s[0] == 'X' ? 0 : P->s[0] == 'Y' ? 1 : -1;
  if (side < 0 || P->len < 3 || P->len > 11 || P->s[1] != '_')
    return fail(P, line, col, CB_EUNSUP, "unsupported variable name %s (want X_i or Y_j)", tokname(P, b, sizeof b));
  for (size_t k = 2; k < P->len; k++) {
    if (!isdigit((unsigned char)P->s[k]))
      return fail(P, line, col, CB_EUNSUP, "unsupported variable name %s (want X_i or Y_j)", tokname(P, b, sizeof b));
    i = i * 10 + (size_t)(P->s[k] - '0');
  }
  if (i >= MAX_VARS) return fail(P, line, col, CB_EUNSUP, "variable index %zu is absurd", i);
  if (i >= P->ndecl[side]) {
    size_t old = P->cdecl[side];
    if (!grow((void **)&P->decl[side], &P->cdecl[side], i + 1, 1)) return oom(P);
    memset(P->decl[side] + old, 0, P->cdecl[side] - old);
    P->ndecl[side] = i + 1;
  }
  if (P->decl[side][i]) return fail(P, line, col, CB_EFORMAT, "variable %.*s declared twice", (int)P->len, P->s);
  P->decl[side][i] = 1;
  if (!P->dline[side]) P->dline[side] = line;
  next(P);
  if (!is(P, "Real")) return fail(P, P->tline, P->tcol, CB_EUNSUP, "unsupported sort %s (want Real)", tokname(P, b, sizeof b));
  next(P);
  return expect(P, T_RP, "')' closing declare-const");
}

/* The whole file: (declare-const ...) and (assert ...) commands; D = their conjunction. */
static int commands(parser *P, dnf *D)
{
  char b[64];
  term t0 = {0};
  if (!dnf_push(D, t0)) return oom(P);
  next(P);
  while (P->t != T_EOF && P->rc == CB_OK) {
    if (P->t == T_RP) return fail(P, P->tline, P->tcol, CB_EFORMAT, "unbalanced parentheses: unexpected ')'");
    P->cline = P->tline; P->ccol = P->tcol;
    if (expect(P, T_LP, "'(' starting a command")) break;
    if (is(P, "declare-const")) { next(P); declare(P); }
    else if (is(P, "assert")) {
      dnf F = {0};
      next(P);
      if (!formula(P, &F) && !expect(P, T_RP, "')' closing assert")) dnf_and(P, D, &F);
      dnf_free(&F);
    } else return fail(P, P->tline, P->tcol, CB_EUNSUP, "unknown command %s", tokname(P, b, sizeof b));
  }
  return P->rc;
}

/* ---- DNF -> boxes ---- */

typedef struct dref {     /* a decimal literal in the text */
  const char *s;
  size_t n;
  int mixed;              /* a bound that is not plain bounds this side too: no decimal */
} dref;

/*
** The exact decimal of a bound side when atom a bounds it with outer value
** o, the side's outer bound so far being cur (tighter: o is the new one).
** For plain atoms o is the literal rounded once, so a tighter outer bound is
** a tighter real bound: its decimal (or none, for a double or a strict
** bound) wins; at an equal outer bound the decimal stays only when both
** atoms give the same literal.  Any other atom (a coefficient, arithmetic
** on constants: two roundings) on the side removes its decimal for good, as
** its outer bound no longer orders the real ones.  Without a decimal the
** caller knows the bound only as an interval of doubles.
*/
static void side_dec(dref *d, int tighter, int equal, const atom *a)
{
  if (!a->plain) d->mixed = 1;
  if (d->mixed) d->s = NULL;
  else if (tighter) { d->s = a->dec; d->n = a->dec_len; }
  else if (equal && !(d->s && a->dec && d->n == a->dec_len && !memcmp(d->s, a->dec, d->n))) d->s = NULL;
}

/* Box (outer and inner) of term t, and the exact decimals of its bounds
   that are no double (dx: nx lower then nx upper); 0 if it has a false atom. */
static int term_box(parser *P, const term *t, size_t nx, double *bx, dref *dx, int *ok)
{
  double *lo = bx, *hi = bx + nx, *li = bx + 2 * nx, *hin = bx + 3 * nx;
  *ok = 1;
  for (size_t i = 0; i < nx; i++) { lo[i] = li[i] = -INFINITY; hi[i] = hin[i] = INFINITY; dx[i].s = dx[nx + i].s = NULL; dx[i].mixed = dx[nx + i].mixed = 0; }
  for (size_t k = 0; k < t->n; k++) {
    const atom *a = &P->atoms[t->a[k]];
    if (a->kind == A_FALSE) { *ok = 0; return CB_OK; }
    if (a->kind != A_X) continue;
    size_t i = P->var[a->off];
    double c = P->coef[a->off];
    if (c > 0) {
      double o = round_div_ru(a->b_up, c) + 0.0, in = round_div_rd(a->b_dn, c) + 0.0;
      side_dec(&dx[nx + i], o < hi[i], o == hi[i], a);
      hi[i] = fmin(hi[i], o);
      hin[i] = fmin(hin[i], a->strict ? round_next_down(in) : in);
    } else {
      double o = round_div_rd(a->b_up, c) + 0.0, in = round_div_ru(a->b_dn, c) + 0.0;
      side_dec(&dx[i], o > lo[i], o == lo[i], a);
      lo[i] = fmax(lo[i], o);
      li[i] = fmax(li[i], a->strict ? round_next_up(in) : in);
    }
    if (lo[i] > hi[i] || (a->strict && lo[i] == hi[i]))
      return fail(P, a->line, a->col, CB_EVALUE, "empty input box: X_%zu has lower bound %.17g above upper bound %.17g", i, lo[i], hi[i]);
  }
  for (size_t i = 0; i < nx; i++)
    if (!isfinite(lo[i]) || !isfinite(hi[i])) {
      int line = t->n ? P->atoms[t->a[0]].line : P->line, col = t->n ? P->atoms[t->a[0]].col : 1;
      return fail(P, line, col, CB_EFORMAT, "X_%zu has no %s bound in this disjunct (the input region must be a box)",
                  i, isfinite(lo[i]) ? "upper" : "lower");
    }
  return CB_OK;
}

/* Output conjunction of term t, in the spec arena. */
static int term_conj(parser *P, vnn_spec *S, const term *t, vnn_conj *c)
{
  size_t m = 0, r = 0, ny = S->ny;
  for (size_t k = 0; k < t->n; k++) m += P->atoms[t->a[k]].kind == A_Y;
  c->m = m;
  c->line = t->n ? P->atoms[t->a[0]].line : 0;
  c->A = arena_array(&S->arena, m * ny + 1, sizeof(double));
  c->b_up = arena_array(&S->arena, m + 1, sizeof(double));
  c->b_dn = arena_array(&S->arena, m + 1, sizeof(double));
  c->strict = arena_array(&S->arena, m + 1, 1);
  if (!c->A || !c->b_up || !c->b_dn || !c->strict) return oom(P);
  for (size_t k = 0; k < t->n; k++) {
    const atom *a = &P->atoms[t->a[k]];
    if (a->kind != A_Y) continue;
    for (size_t j = 0; j < a->n; j++) c->A[r * ny + P->var[a->off + j]] = P->coef[a->off + j];
    c->b_up[r] = a->b_up; c->b_dn[r] = a->b_dn; c->strict[r] = (unsigned char)a->strict;
    r++;
  }
  return CB_OK;
}

/* Does box B have the decimals dx (NULL arrays: none)? */
static int same_decimals(const vnn_box *B, const dref *dx, size_t nx)
{
  for (size_t k = 0; k < 2 * nx; k++) {
    const char *s = B->lo_dec ? (k < nx ? B->lo_dec[k] : B->hi_dec[k - nx]) : NULL;
    if (!s != !dx[k].s || (s && (strlen(s) != dx[k].n || memcmp(s, dx[k].s, dx[k].n)))) return 0;
  }
  return 1;
}

/* Copies the decimals dx into box B (arena); no arrays when there are none. */
static int keep_decimals(vnn_spec *S, vnn_box *B, const dref *dx, size_t nx)
{
  size_t k = 0;
  while (k < 2 * nx && !dx[k].s) k++;
  if (k == 2 * nx) return CB_OK;
  if (!(B->lo_dec = arena_array(&S->arena, 2 * nx, sizeof *B->lo_dec))) return CB_ENOMEM;
  B->hi_dec = B->lo_dec + nx;
  for (k = 0; k < 2 * nx; k++) {
    char *c;
    if (!dx[k].s) continue;
    if (!(c = arena_alloc(&S->arena, dx[k].n + 1))) return CB_ENOMEM;
    memcpy(c, dx[k].s, dx[k].n);
    B->lo_dec[k] = c;   /* k >= nx: hi_dec[k - nx] */
  }
  return CB_OK;
}

static int build(parser *P, vnn_spec *S, dnf *D)
{
  size_t nx = S->nx;
  double *bx = cb_alloc(4 * nx * sizeof *bx + 1);
  dref *dx = cb_alloc(2 * nx * sizeof *dx + 1);
  S->box = arena_array(&S->arena, D->n + 1, sizeof *S->box);
  if (!bx || !dx || !S->box) { cb_free(bx); cb_free(dx); return oom(P); }
  for (size_t i = 0; i < D->n && P->rc == CB_OK; i++) {
    int ok;
    size_t b;
    if (term_box(P, &D->t[i], nx, bx, dx, &ok) || !ok) continue;
    for (b = 0; b < S->n_box; b++)
      if (!memcmp(S->box[b].lo, bx, nx * sizeof *bx) && !memcmp(S->box[b].hi, bx + nx, nx * sizeof *bx) &&
          !memcmp(S->box[b].lo_in, bx + 2 * nx, nx * sizeof *bx) && !memcmp(S->box[b].hi_in, bx + 3 * nx, nx * sizeof *bx) &&
          same_decimals(&S->box[b], dx, nx)) break;
    vnn_box *B = &S->box[b];
    if (b == S->n_box) {
      double *v = arena_array(&S->arena, 4 * nx + 1, sizeof *v);
      B->conj = arena_array(&S->arena, D->n, sizeof *B->conj);
      if (!v || !B->conj || keep_decimals(S, B, dx, nx)) { oom(P); break; }
      memcpy(v, bx, 4 * nx * sizeof *v);
      B->lo = v; B->hi = v + nx; B->lo_in = v + 2 * nx; B->hi_in = v + 3 * nx;
      S->n_box++;
    }
    term_conj(P, S, &D->t[i], &B->conj[B->n_conj++]);
  }
  cb_free(bx);
  cb_free(dx);
  return P->rc;
}

int vnn_parse_string(const char *text, size_t len, const char *path, vnn_spec **out, cb_error *err)
{
  parser P = {0};
  dnf D = {0};
  vnn_spec *S = cb_calloc(1, sizeof *S);
  *out = NULL;
  P.path = path; P.p = text; P.end = text + len; P.line = 1; P.col = 1; P.err = err;
  if (!S) return cb_error_set(err, CB_ENOMEM, "out of memory");
  arena_init(&S->arena);
  if (!(S->path = arena_strdup(&S->arena, path))) oom(&P);
  if (!P.rc && !commands(&P, &D)) {
    for (int s = 0; s < 2 && !P.rc; s++) {
      size_t n = P.ndecl[s];
      for (size_t i = 0; i < n && !P.rc; i++)
        if (!P.decl[s][i]) fail(&P, P.dline[s], 1, CB_EFORMAT, "%c_%zu is not declared but %c_%zu is (want %c_0 .. %c_%zu)",
                                "XY"[s], i, "XY"[s], n - 1, "XY"[s], "XY"[s], n - 1);
    }
    if (!P.rc && !P.ndecl[0]) fail(&P, P.line, P.col, CB_EFORMAT, "no input variable X_0 declared");
    if (!P.rc && !P.ndecl[1]) fail(&P, P.line, P.col, CB_EFORMAT, "no output variable Y_0 declared");
    S->nx = P.ndecl[0]; S->ny = P.ndecl[1]; S->x_line = P.dline[0]; S->y_line = P.dline[1];
    if (!P.rc) build(&P, S, &D);
  }
  dnf_free(&D);
  cb_free(P.atoms); cb_free(P.var); cb_free(P.coef); cb_free(P.decl[0]); cb_free(P.decl[1]);
  if (P.rc) { vnn_free(S); return P.rc; }
  *out = S;
  return CB_OK;
}

int vnn_parse(const char *path, vnn_spec **out, cb_error *err)
{
  FILE *f;
  char *buf = NULL;
  long n;
  int rc;
  struct stat st;
  *out = NULL;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return cb_error_set(err, CB_EIO, "%s: is a directory, not a VNNLIB file", path);
  f = fopen(path, "rb");
  if (!f) return cb_error_set(err, CB_EIO, "%s: cannot open", path);
  if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) { fclose(f); return cb_error_set(err, CB_EIO, "%s: cannot read", path); }
  if (!(buf = cb_alloc((size_t)n + 1))) { fclose(f); return cb_error_set(err, CB_ENOMEM, "%s: out of memory", path); }
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) { fclose(f); cb_free(buf); return cb_error_set(err, CB_EIO, "%s: cannot read", path); }
  fclose(f);
  if (memchr(buf, 0, (size_t)n)) { cb_free(buf); return cb_error_set(err, CB_EFORMAT, "%s: binary file (NUL byte), not VNNLIB text", path); }
  rc = vnn_parse_string(buf, (size_t)n, path, out, err);
  cb_free(buf);
  return rc;
}

int vnn_check_sizes(const vnn_spec *s, size_t nx, size_t ny, cb_error *err)
{
  if (s->nx != nx)
    return cb_error_set(err, CB_ESHAPE, "%s:%d:1: declares %zu input variables X_i but the network has %zu inputs", s->path, s->x_line, s->nx, nx);
  if (s->ny != ny)
    return cb_error_set(err, CB_ESHAPE, "%s:%d:1: declares %zu output variables Y_j but the network has %zu outputs", s->path, s->y_line, s->ny, ny);
  return CB_OK;
}

void vnn_free(vnn_spec *s)
{
  if (!s) return;
  arena_free(&s->arena);
  cb_free(s);
}
