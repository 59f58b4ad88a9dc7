/*
** VNNLIB writer: a vnn_spec (vnnlib.h) back to text that vnn_parse, and the
** usual VNN-COMP readers, accept.
**
** Numbers are written so that the file means at least the spec: a box's
** outer bounds and a row's b_up are printed as the exact decimal expansion
** of the double (glibc's %.767g prints every digit, then %g drops trailing
** zeros); a bound whose expansion is longer than the reader's limit (tiny
** values) is printed as %.17g of the next double outward, a decimal that
** lies strictly outside the double.  So the file's box contains the spec's
** outer box, and a reader that rounds outward gets the same doubles back.
** Coefficients are exact in binary64 (the reader refuses others), so their
** expansion is exact.  One box: the flat form VNN-COMP files use, one
** assert per input bound and one (or (and ...) ...) over the output rows;
** several boxes: one (or (and box rows) ...) assert.  A row e_a - e_b <= 0
** is written (>= Y_b Y_a).  Workload: once per exported row, 1e3 bounds.
*/
#include <stdio.h>
#include <string.h>
#include "vnnlib.h"
#include "round.h"

#define NUM_MAX 400     /* below the reader's 512-character token limit (vnnlib.c, number) */

/* v as a decimal into buf (NUM_MAX + 32 chars); side < 0: the decimal is
   <= v, > 0: >= v, 0: v itself (a coefficient, exact).  The length is taken
   with strlen from a buffer that holds any expansion (at most 767
   significant digits, exponent and sign): gcc's -fprintf-return-value
   bounded snprintf's count for "%.767g" too low and kept a cut expansion. */
static const char *num(double v, int side, char *buf)
{
  char full[1100];
  snprintf(full, sizeof full, "%.767g", v);
  if (strlen(full) < NUM_MAX) { memcpy(buf, full, strlen(full) + 1); return buf; }
  snprintf(buf, NUM_MAX + 32, "%.17g", side < 0 ? round_next_down(v) : side > 0 ? round_next_up(v) : v);
  return buf;
}

/* Row r of conjunction k: A_r y <= b_r (< if strict). */
static void write_row(FILE *f, const vnn_conj *k, size_t r, size_t ny)
{
  const double *a = k->A + r * ny;
  size_t pos = ny, neg = ny, nz = 0;
  char buf[NUM_MAX + 32];
  for (size_t j = 0; j < ny; j++) {
    if (a[j] == 0) continue;
    nz++;
    if (a[j] == 1) pos = j; else if (a[j] == -1) neg = j;
  }
  if (nz == 2 && pos < ny && neg < ny && k->b_up[r] == 0 && !k->strict[r]) { fprintf(f, "(>= Y_%zu Y_%zu)", neg, pos); return; }
  fprintf(f, "(%s (+", k->strict[r] ? "<" : "<=");
  for (size_t j = 0; j < ny; j++) if (a[j] != 0) fprintf(f, " (* %s Y_%zu)", num(a[j], 0, buf), j);
  if (!nz) fputs(" 0", f);
  fprintf(f, ") %s)", num(k->b_up[r], 1, buf));
}

/* The disjunction of box b's output conjunctions. */
static void write_outputs(FILE *f, const vnn_box *B, size_t ny)
{
  fputs("(or", f);
  for (size_t c = 0; c < B->n_conj; c++) {
    fputs("\n    (and", f);
    for (size_t r = 0; r < B->conj[c].m; r++) { fputc(' ', f); write_row(f, &B->conj[c], r, ny); }
    if (!B->conj[c].m) fputs(" (<= Y_0 Y_0)", f);     /* no row: every output counts */
    fputc(')', f);
  }
  if (!B->n_conj) fputs(" (and (< Y_0 Y_0))", f);       /* no conjunction: nothing holds */
  fputc(')', f);
}

int vnn_write(FILE *f, const vnn_spec *s, const char *comment)
{
  char lo[NUM_MAX + 32], hi[NUM_MAX + 32];
  const char *p = comment;
  while (p && *p) {                                    /* one "; " line per comment line */
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    fprintf(f, "; %.*s\n", (int)n, p);
    p += n + (e != NULL);
  }
  for (size_t i = 0; i < s->nx; i++) fprintf(f, "(declare-const X_%zu Real)\n", i);
  for (size_t j = 0; j < s->ny; j++) fprintf(f, "(declare-const Y_%zu Real)\n", j);
  if (s->n_box == 1) {
    const vnn_box *B = &s->box[0];
    for (size_t i = 0; i < s->nx; i++)
      fprintf(f, "(assert (>= X_%zu %s))\n(assert (<= X_%zu %s))\n", i, num(B->lo[i], -1, lo), i, num(B->hi[i], 1, hi));
    fputs("(assert ", f);
    write_outputs(f, B, s->ny);
    fputs(")\n", f);
  } else {
    fputs("(assert (or", f);
    for (size_t b = 0; b < s->n_box; b++) {
      fputs("\n  (and", f);
      for (size_t i = 0; i < s->nx; i++) fprintf(f, " (>= X_%zu %s) (<= X_%zu %s)", i, num(s->box[b].lo[i], -1, lo), i, num(s->box[b].hi[i], 1, hi));
      fputs("\n   ", f);
      write_outputs(f, &s->box[b], s->ny);
      fputc(')', f);
    }
    if (!s->n_box) fputs(" (and (>= X_0 0) (<= X_0 0) (< Y_0 Y_0))", f);
    fputs("))\n", f);
  }
  return ferror(f) ? CB_EIO : CB_OK;
}
