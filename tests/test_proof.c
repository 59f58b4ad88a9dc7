/*
** Proofs of unsat (issue 22): verify --proof's emitter (certify/proof_emit.c)
** and the exact checker (src/proofchk.c).
**   - emitted proofs of the unit cases check valid: tiny_unsat (one leaf),
**     tiny_split (a tree of input splits, two output disjuncts), tiny_contra
**     (contradictory rows, refuted by their sum);
**   - tampered proofs are rejected with the first bad leaf named: a leaf
**     removed, a multiplier negated, a split bound moved one ulp the wrong
**     way (either child), the network's weight moved one ulp (tight.nnet,
**     unsat by 2^-52: the verifier cannot prove it in double, a hand-written
**     one-leaf proof checks exactly), the property's threshold moved;
**   - ReLU splits: a complementary pair checks, a split naming no ReLU does
**     not; parse errors name their line;
**   - format version 2's header records the input space, version 1 still reads;
**   - version 3's tighten and beta records (tighten.nnet, y0 <= 0 everywhere):
**     a ReLU split whose halves are refuted only with the split neuron's
**     neighbour bounded by the split (tighten) and, at the lower threshold,
**     the split term in the output row (beta); each proof fails without the
**     record; a negated multiplier and a bound moved one ulp the wrong way are
**     rejected naming the leaf; versions 1 and 2 refuse the records;
**   - pchk_bounds, the checker's node boxes that verify's ReLU route searches
**     with: a split, a record, half its multiplier, an empty region, a
**     negative multiplier.
*/
#include <glob.h>
#include <math.h>
#include "testutil.h"
#include "vnnlib.h"
#include "proofchk.h"
#include "proof_emit.h"

typedef struct checked { int ok; char msg[1100]; long leaves; } checked;

static char *read_all(const char *path)
{
  FILE *f = fopen(path, "rb");
  char *s;
  long n;
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  s = malloc((size_t)n + 1);
  assert_non_null(s);
  assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = 0;
  fclose(f);
  return s;
}

/* Checks proof text against net and spec files: parse errors give ok = 0
   and the parser's message. */
static checked check_text(const char *net_path, const char *prop_path, const char *text)
{
  cb_net *net = NULL;
  vnn_spec *spec = NULL;
  proof *pf = NULL;
  pchk *P = NULL;
  cb_error err = {0};
  checked r = {0, "", 0};
  assert_int_equal(cb_net_load(net_path, &net, &err), CB_OK);
  assert_int_equal(vnn_parse(prop_path, &spec, &err), CB_OK);
  assert_int_equal(pchk_new(net, spec, &P, &err), CB_OK);
  if (proof_parse(text, strlen(text), &pf, &err) != CB_OK) snprintf(r.msg, sizeof r.msg, "%s", err.msg);
  else r.ok = proof_check(P, pf, r.msg, sizeof r.msg, &r.leaves);
  proof_free(pf);
  pchk_free(P);
  vnn_free(spec);
  cb_net_free(net);
  return r;
}

/* The emitted proof of net/prop as text (caller frees). */
static char *emit_text(const char *net_path, const char *prop_path, proof_emit_stats *st)
{
  cb_net *net = NULL;
  vnn_spec *spec = NULL;
  cb_error err = {0};
  char path[] = "/tmp/cb_test_proof_XXXXXX", *s;
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(cb_net_load(net_path, &net, &err), CB_OK);
  assert_int_equal(vnn_parse(prop_path, &spec, &err), CB_OK);
  assert_int_equal(proof_emit(net, spec, net_path, prop_path, path, 30, 64, 0, st, &err), CB_OK);
  s = read_all(path);
  {   /* both runs' temporary files are gone: the winner's renamed, the other's removed */
    char pat[64];
    glob_t g;
    snprintf(pat, sizeof pat, "%s.tmp*", path);
    assert_int_equal(glob(pat, 0, NULL, &g), GLOB_NOMATCH);
    globfree(&g);
  }
  assert_int_equal((long)strlen(s), st->bytes);
  assert_true(st->strong == 0 || st->strong == 1);
  assert_true(st->cpu_rule[0] + st->cpu_rule[1] <= st->cpu_seconds + 1e-6);
  remove(path);
  vnn_free(spec);
  cb_net_free(net);
  return s;
}

/* text with its line number k (1-based) replaced by repl (NULL: removed). */
static char *replace_line(const char *text, int k, const char *repl)
{
  size_t n = strlen(text) + (repl ? strlen(repl) : 0) + 2, o = 0;
  char *out = malloc(n);
  int line = 1;
  assert_non_null(out);
  for (const char *p = text; *p; line++) {
    const char *e = strchr(p, '\n');
    size_t len = e ? (size_t)(e - p) + 1 : strlen(p);
    if (line != k) { memcpy(out + o, p, len); o += len; }
    else if (repl) { o += (size_t)sprintf(out + o, "%s\n", repl); }
    p += len;
  }
  out[o] = 0;
  return out;
}

/* The line number of the first line starting with prefix (0: none). */
static int find_line(const char *text, const char *prefix)
{
  int line = 1;
  for (const char *p = text; *p; line++) {
    if (!strncmp(p, prefix, strlen(prefix))) return line;
    p = strchr(p, '\n');
    if (!p) break;
    p++;
  }
  return 0;
}

static const char *tight_proof(const char *net_path, const char *prop_path)
{
  static char buf[512];
  char hn[65] = "", hp[65] = "", cmd[512];
  FILE *f;
  snprintf(cmd, sizeof cmd, "sha256sum %s %s", net_path, prop_path);
  f = popen(cmd, "r");
  assert_non_null(f);
  assert_int_equal(fscanf(f, "%64s %*s %64s", hn, hp), 2);
  pclose(f);
  snprintf(buf, sizeof buf, "cerbere-proof 1\nnetwork-sha256 %s\nproperty-sha256 %s\nboxes 1\nbox 0\nleaf 0\nconj 0 1\nend\n", hn, hp);
  return buf;
}

static void test_unit_proofs_valid(void **state)
{
  static const char *props[] = {"tests/data/tiny_unsat.vnnlib", "tests/data/tiny_split.vnnlib", "tests/data/tiny_contra.vnnlib"};
  (void)state;
  for (int k = 0; k < 3; k++) {
    proof_emit_stats st;
    char *t = emit_text("tests/data/tiny.nnet", props[k], &st);
    checked c = check_text("tests/data/tiny.nnet", props[k], t);
    if (!c.ok) fprintf(stderr, "%s: %s\n", props[k], c.msg);
    assert_int_equal(c.ok, 1);
    assert_int_equal(c.leaves, st.leaves);
    if (k == 1) assert_true(st.leaves >= 5);   /* a tree, not one leaf */
    if (k == 1) assert_true(st.cpu_rule[0] > 0 && st.cpu_rule[1] > 0);   /* both split rules ran, side by side */
    if (k == 2) assert_non_null(strstr(t, "conj 0 1 1\n"));   /* contradictory rows: their sum */
    free(t);
  }
}

/* LP-weighed rows (the emitter's lp_leaf): tiny_contra3's conjunction is
   refuted by neither one row nor the sum of its three rows, only by a
   weighing that drops Y_1 <= 100; the emitted proof checks valid, and
   changing its multipliers (dropping a needed row, or weighing Y_1's row
   in) makes the leaf fail with its number named. */
static void test_lp_weighed_rows(void **state)
{
  const char *net = "tests/data/tiny.nnet", *prop = "tests/data/tiny_contra3.vnnlib";
  proof_emit_stats st;
  char *t = emit_text(net, prop, &st), *u;
  checked c = check_text(net, prop, t);
  int k = find_line(t, "conj 0 ");
  double l0, l1, l2;
  char repl[128];
  (void)state;
  if (!c.ok) fprintf(stderr, "%s\n", c.msg);
  assert_int_equal(c.ok, 1);
  assert_true(st.lp_leaves >= 1);
  assert_true(k > 0);
  {
    const char *p = t;
    for (int line = 1; line < k; line++) p = strchr(p, '\n') + 1;
    assert_int_equal(sscanf(p, "conj 0 %la %la %la", &l0, &l1, &l2), 3);
  }
  assert_true(l0 > 0 && l1 > 0 && l2 == 0);
  snprintf(repl, sizeof repl, "conj 0 %a 0 0", l0);   /* the row Y_0 >= 0.75 dropped */
  u = replace_line(t, k, repl);
  c = check_text(net, prop, u);
  assert_int_equal(c.ok, 0);
  assert_non_null(strstr(c.msg, "leaf 0"));
  free(u);
  snprintf(repl, sizeof repl, "conj 0 %a %a 1", l0, l1);   /* Y_1 <= 100 weighed in */
  u = replace_line(t, k, repl);
  c = check_text(net, prop, u);
  assert_int_equal(c.ok, 0);
  assert_non_null(strstr(c.msg, "leaf 0"));
  free(u);
  snprintf(repl, sizeof repl, "conj 0 %a %a -0x1p-60", l0, l1);   /* a negative multiplier, however small */
  u = replace_line(t, k, repl);
  c = check_text(net, prop, u);
  assert_int_equal(c.ok, 0);
  assert_non_null(strstr(c.msg, "negative"));
  free(u);
  free(t);
}

static void test_tamper_leaf_removed(void **state)
{
  proof_emit_stats st;
  char *t = emit_text("tests/data/tiny.nnet", "tests/data/tiny_split.vnnlib", &st), *u, *w;
  int k = find_line(t, "leaf 3\n");
  checked c;
  (void)state;
  assert_true(k > 0);
  u = replace_line(t, k, NULL);       /* the leaf and its two multiplier lines */
  w = replace_line(u, k, NULL);
  free(u);
  u = replace_line(w, k, NULL);
  c = check_text("tests/data/tiny.nnet", "tests/data/tiny_split.vnnlib", u);
  assert_int_equal(c.ok, 0);
  assert_non_null(strstr(c.msg, "leaf 3"));
  free(t); free(u); free(w);
}

static void test_tamper_multiplier_negated(void **state)
{
  proof_emit_stats st;
  char *t = emit_text("tests/data/tiny.nnet", "tests/data/tiny_split.vnnlib", &st), *u;
  int k = find_line(t, "leaf 2\n");
  checked c;
  (void)state;
  assert_true(k > 0);
  assert_int_equal(strncmp(strchr(strstr(t, "leaf 2\n"), '\n') + 1, "conj 0 1\n", 9), 0);
  u = replace_line(t, k + 1, "conj 0 -1");
  c = check_text("tests/data/tiny.nnet", "tests/data/tiny_split.vnnlib", u);
  assert_int_equal(c.ok, 0);
  assert_int_equal(strncmp(c.msg, "leaf 2 ", 7), 0);
  assert_non_null(strstr(c.msg, "negative"));
  free(t); free(u);
}

static void test_tamper_split_ulp(void **state)
{
  proof_emit_stats st;
  char *t = emit_text("tests/data/tiny.nnet", "tests/data/tiny_split.vnnlib", &st);
  int k = find_line(t, "split ");
  (void)state;
  assert_true(k > 0);
  for (int side = 0; side < 2; side++) {
    int d;
    double x, y;
    char repl[128], *u;
    checked c;
    const char *p = strstr(t, "split ");
    assert_int_equal(sscanf(p, "split %d %la %la", &d, &x, &y), 3);
    if (side == 0) x = nextafter(x, -INFINITY); else y = nextafter(y, INFINITY);   /* a gap of one ulp */
    snprintf(repl, sizeof repl, "split %d %a %a", d, x, y);
    u = replace_line(t, k, repl);
    c = check_text("tests/data/tiny.nnet", "tests/data/tiny_split.vnnlib", u);
    assert_int_equal(c.ok, 0);
    assert_int_equal(strncmp(c.msg, "leaf 0:", 7), 0);
    assert_non_null(strstr(c.msg, "gap"));
    free(u);
  }
  free(t);
}

static void write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_tight_weight_and_threshold(void **state)
{
  char *net = read_all("tests/data/tight.nnet"), *prop = read_all("tests/data/tight.vnnlib"), *n2, *p2, *q;
  const char *pf = tight_proof("tests/data/tight.nnet", "tests/data/tight.vnnlib");
  char npath[] = "/tmp/cb_tight_XXXXXX", ppath[] = "/tmp/cb_tightp_XXXXXX";
  checked c;
  (void)state;
  close(mkstemp(npath));
  close(mkstemp(ppath));
  c = check_text("tests/data/tight.nnet", "tests/data/tight.vnnlib", pf);   /* exact: unsat by 2^-52 */
  assert_int_equal(c.ok, 1);
  /* the output weight (the line after "0.0," of the first bias) one ulp up */
  q = strstr(net, "\n1.0,\n0.0,\n1.0,\n0.0,\n");
  assert_non_null(q);
  n2 = malloc(strlen(net) + 64);
  memcpy(n2, net, (size_t)(q - net));
  strcpy(n2 + (q - net), "\n1.0,\n0.0,\n1.0000000000000002,\n0.0,\n");
  write_file(npath, n2);
  c = check_text(npath, "tests/data/tight.vnnlib", pf);
  assert_int_equal(c.ok, 0);
  assert_int_equal(strncmp(c.msg, "leaf 0 ", 7), 0);
  assert_non_null(strstr(c.msg, "not refuted"));
  /* the threshold moved to 1 */
  q = strstr(prop, "1.0000000000000002220446049250313080847263336181640625");
  assert_non_null(q);
  p2 = malloc(strlen(prop) + 1);
  memcpy(p2, prop, (size_t)(q - prop));
  strcpy(p2 + (q - prop), "1))\n");
  write_file(ppath, p2);
  c = check_text("tests/data/tight.nnet", ppath, pf);
  assert_int_equal(c.ok, 0);
  assert_int_equal(strncmp(c.msg, "leaf 0 ", 7), 0);
  remove(npath); remove(ppath);
  free(net); free(prop); free(n2); free(p2);
}

static void test_relu_splits(void **state)
{
  char *t = read_all("tests/data/tiny_unsat.vnnlib");
  const char *hdr = "cerbere-proof 1\nnetwork-sha256 0000000000000000000000000000000000000000000000000000000000000000\n"
                    "property-sha256 0000000000000000000000000000000000000000000000000000000000000000\nboxes 1\nbox 0\n";
  char buf[1024];
  checked c;
  (void)state;
  snprintf(buf, sizeof buf, "%srelu 3 1\nleaf 0\nconj 0 1\nsplit 1 0x1p+0 0x1p+0\nleaf 1\nconj 0 1\nleaf 2\nconj 0 1\nend\n", hdr);
  c = check_text("tests/data/tiny.nnet", "tests/data/tiny_unsat.vnnlib", buf);
  assert_int_equal(c.ok, 1);
  assert_int_equal(c.leaves, 3);
  {   /* a ReLU split over a tree whose second half has leaves with empty regions (gen_proofs.sh) */
    char *r = read_all("tests/data/tiny_split_relu.proof");
    c = check_text("tests/data/tiny.nnet", "tests/data/tiny_split.vnnlib", r);
    assert_int_equal(c.ok, 1);
    free(r);
  }
  snprintf(buf, sizeof buf, "%srelu 2 1\nleaf 0\nconj 0 1\nleaf 1\nconj 0 1\nend\n", hdr);   /* node 2 is AFFINE */
  c = check_text("tests/data/tiny.nnet", "tests/data/tiny_unsat.vnnlib", buf);
  assert_int_equal(c.ok, 0);
  assert_non_null(strstr(c.msg, "names no ReLU"));
  snprintf(buf, sizeof buf, "%srelu 3 1\nleaf 0\nconj 0 1\nend\n", hdr);   /* one child only */
  c = check_text("tests/data/tiny.nnet", "tests/data/tiny_unsat.vnnlib", buf);
  assert_int_equal(c.ok, 0);
  assert_non_null(strstr(c.msg, "incomplete"));
  free(t);
}

/* A version-3 proof of tighten.nnet: a ReLU split of z1 (node 3, neuron 0);
   t0, t1: the records after leaf 0 and leaf 1's "leaf" line, b1 after leaf
   1's conj line. */
static checked tighten_proof(const char *prop, const char *t0, const char *t1, const char *b1)
{
  char buf[2048];
  snprintf(buf, sizeof buf,
           "cerbere-proof 3\nnetwork-sha256 0000000000000000000000000000000000000000000000000000000000000000\n"
           "property-sha256 0000000000000000000000000000000000000000000000000000000000000000\ninput-space raw\nboxes 1\nbox 0\n"
           "relu 3 0\nleaf 0\n%sconj 0 0x1p+0\nleaf 1\n%sconj 0 0x1p+0\n%send\n", t0, t1, b1);
  return check_text("tests/data/tighten.nnet", prop, buf);
}

static void test_tighten_records(void **state)
{
  const char *p = "tests/data/tighten.vnnlib", *pb = "tests/data/tighten_beta.vnnlib";
  const char *hi = "tighten 3 1 hi -0x1p-1 0x1p+0\n", *lo = "tighten 3 1 lo -0x1p-1 0x1p+0\n", *beta = "beta 0x1p-2\n";
  checked c;
  (void)state;
  c = tighten_proof(p, hi, lo, "");                    /* z2 <= -0.5 (z1 <= 0), z2 >= -0.5 (z1 >= 0) */
  assert_int_equal(c.ok, 1);
  assert_int_equal(c.leaves, 2);
  c = tighten_proof(p, "", lo, "");                    /* without the record: CROWN leaves z2 in [-2.5, 1.5] */
  assert_int_equal(c.ok, 0);
  assert_int_equal(strncmp(c.msg, "leaf 0 ", 7), 0);
  assert_non_null(strstr(c.msg, "not refuted"));
  c = tighten_proof(p, hi, "", "");
  assert_int_equal(c.ok, 0);
  assert_int_equal(strncmp(c.msg, "leaf 1 ", 7), 0);
  c = tighten_proof(p, "tighten 3 1 hi -0x1p-1 -0x1p+0\n", lo, "");   /* negated multiplier */
  assert_int_equal(c.ok, 0);
  assert_int_equal(strncmp(c.msg, "leaf 0 ", 7), 0);
  assert_non_null(strstr(c.msg, "negative"));
  c = tighten_proof(p, "tighten 3 1 hi -0x1.0000000000001p-1 0x1p+0\n", lo, "");   /* upper bound one ulp lower */
  assert_int_equal(c.ok, 0);
  assert_int_equal(strncmp(c.msg, "leaf 0 ", 7), 0);
  assert_non_null(strstr(c.msg, "not re-derived"));
  c = tighten_proof(p, hi, "tighten 3 1 lo -0x1.fffffffffffffp-2 0x1p+0\n", "");   /* lower bound one ulp higher */
  assert_int_equal(c.ok, 0);
  assert_int_equal(strncmp(c.msg, "leaf 1 ", 7), 0);
  assert_non_null(strstr(c.msg, "not re-derived"));
  c = tighten_proof(p, "tighten 3 1 hi -0x1p-1 0x1p-1\n", lo, "");   /* half the multiplier derives only z2 <= 0.5 */
  assert_int_equal(c.ok, 0);
  assert_non_null(strstr(c.msg, "not re-derived"));
  c = tighten_proof(p, "tighten 3 1 hi -0x1p-1\n", lo, "");   /* no multiplier for the path's split */
  assert_int_equal(c.ok, 0);
  assert_non_null(strstr(c.msg, "one multiplier per ReLU split"));
  c = tighten_proof(p, "tighten 4 0 hi -0x1p-1 0x1p+0\n", lo, "");   /* node 4 is AFFINE */
  assert_int_equal(c.ok, 0);
  assert_non_null(strstr(c.msg, "names no ReLU neuron"));
  c = tighten_proof(pb, hi, lo, beta);                 /* y0 >= 0.25: leaf 1 needs 1/4 of the split term */
  assert_int_equal(c.ok, 1);
  c = tighten_proof(pb, hi, lo, "");
  assert_int_equal(c.ok, 0);
  assert_int_equal(strncmp(c.msg, "leaf 1 ", 7), 0);
  c = tighten_proof(pb, hi, lo, "beta -0x1p-2\n");
  assert_int_equal(c.ok, 0);
  assert_int_equal(strncmp(c.msg, "leaf 1 ", 7), 0);
  assert_non_null(strstr(c.msg, "negative"));
  {   /* the hand-written file (a fuzz seed) checks; as version 2 it does not parse */
    char *t = read_all("tests/data/tighten_beta.proof"), *v;
    c = check_text("tests/data/tighten.nnet", pb, t);
    assert_int_equal(c.ok, 1);
    assert_non_null(v = strstr(t, "cerbere-proof 3"));
    v[14] = '2';
    c = check_text("tests/data/tighten.nnet", pb, t);
    assert_int_equal(c.ok, 0);
    assert_non_null(strstr(c.msg, "unknown record \"tighten\""));
    free(t);
  }
}

/* The ReLU route of the emitter (certify/proof_relu.c): on tighten.nnet no
   input box is refuted by CROWN without a ReLU split, so verify's ReLU search
   closes the root box and its record becomes a version-3 tree (tighten
   records with the bounds the checker re-derives, beta where the Farkas
   combination weighs a split term).  The proof checks valid; a negated
   tighten multiplier and a removed tighten record are rejected, the leaf
   named. */
/* pchk_bounds, the node boxes the ReLU route's search takes over (the
   checker's own for the path's splits and records): tighten.nnet, z1 <= 0
   leaves z2 = z1 - 0.5 in CROWN's [-2.5, 1.5] (z1's box clamped to
   [-2, 0]); the record z2 - z1 <= -0.5 with multiplier 1 gives z2 <= -0.5,
   half the multiplier no such bound (derive mode keeps what it derives);
   with z2 >= 0 split too the region is empty (0); a negative multiplier is
   refused (< 0) and the bounds are not given. */
static void test_pchk_bounds(void **state)
{
  cb_net *net = NULL;
  vnn_spec *spec = NULL;
  pchk *P = NULL;
  cb_error err = {0};
  double *const *lo, *const *hi, mu[2] = {1, 0}, half = 0.5, neg = -1, got = 0;
  pchk_split sp[2] = {{3, 0, -1}, {3, 1, 1}};
  pchk_tighten t = {3, 1, 0, 1, NAN, mu, &got};
  (void)state;
  assert_int_equal(cb_net_load("tests/data/tighten.nnet", &net, &err), CB_OK);
  assert_int_equal(vnn_parse("tests/data/tighten.vnnlib", &spec, &err), CB_OK);
  assert_int_equal(pchk_new(net, spec, &P, &err), CB_OK);
  assert_int_equal(pchk_bounds(P, spec->box[0].lo, spec->box[0].hi, sp, 1, NULL, 0, &lo, &hi), 1);
  assert_true(hi[2][0] == 0 && lo[2][0] == -2);
  assert_true(lo[2][1] == -2.5 && hi[2][1] == 1.5);
  assert_int_equal(pchk_bounds(P, spec->box[0].lo, spec->box[0].hi, sp, 1, &t, 1, &lo, &hi), 1);
  assert_true(hi[2][1] == -0.5 && got == -0.5 && lo[2][1] == -2.5);
  t.mu = &half;
  assert_int_equal(pchk_bounds(P, spec->box[0].lo, spec->box[0].hi, sp, 1, &t, 1, &lo, &hi), 1);
  assert_true(hi[2][1] > -0.5 && hi[2][1] <= 1.5);
  t.mu = mu;
  assert_int_equal(pchk_bounds(P, spec->box[0].lo, spec->box[0].hi, sp, 2, &t, 1, &lo, &hi), 0);
  t.mu = &neg;
  t.bound = -0.5;
  assert_true(pchk_bounds(P, spec->box[0].lo, spec->box[0].hi, sp, 1, &t, 1, &lo, &hi) < 0);
  pchk_free(P);
  vnn_free(spec);
  cb_net_free(net);
}

static void test_relu_route(void **state)
{
  static const char *props[] = {"tests/data/tighten.vnnlib", "tests/data/tighten_beta.vnnlib"};
  (void)state;
  proof_emit_relu_depth(0);   /* the route from the root box on (input splitting closes these boxes too) */
  for (int k = 0; k < 2; k++) {
    proof_emit_stats st;
    char *t = emit_text("tests/data/tighten.nnet", props[k], &st), *l, *m, *u;
    checked c;
    assert_true(st.relu_boxes >= 1 && st.relu_leaves >= 2 && st.relu_states >= 1);
    assert_int_equal(strncmp(t, "cerbere-proof 3\n", 16), 0);
    assert_non_null(strstr(t, "\nrelu 3 "));
    c = check_text("tests/data/tighten.nnet", props[k], t);
    assert_int_equal(c.ok, 1);
    assert_int_equal(c.leaves, st.leaves);
    assert_non_null(l = strstr(t, "\ntighten "));   /* its first multiplier negated */
    m = l + 1;
    for (int f = 0; f < 5; f++) assert_non_null(m = strchr(m + 1, ' '));   /* past "tighten NODE NEURON SIDE BOUND" */
    assert_true(m < strchr(l + 1, '\n') && m[1] == '0');
    u = malloc(strlen(t) + 2);
    assert_non_null(u);
    memcpy(u, t, (size_t)(m - t) + 1);
    u[m - t + 1] = '-';
    strcpy(u + (m - t) + 2, m + 1);
    c = check_text("tests/data/tighten.nnet", props[k], u);
    assert_int_equal(c.ok, 0);
    assert_int_equal(strncmp(c.msg, "leaf ", 5), 0);
    assert_non_null(strstr(c.msg, "negative"));
    memcpy(u, t, (size_t)(l - t) + 1);   /* the record removed */
    strcpy(u + (l - t) + 1, strchr(l + 1, '\n') + 1);
    c = check_text("tests/data/tighten.nnet", props[k], u);
    assert_int_equal(c.ok, 0);
    assert_int_equal(strncmp(c.msg, "leaf ", 5), 0);
    free(u);
    free(t);
  }
  proof_emit_relu_depth(-2);
}

static void test_parse_errors(void **state)
{
  static const char *bad[] = {
    "cerbere-proof 4\n",
    "cerbere-proof 3\nnetwork-sha256 0000000000000000000000000000000000000000000000000000000000000000\n"
    "property-sha256 0000000000000000000000000000000000000000000000000000000000000000\ninput-space raw\nboxes 1\nbox 0\nleaf 0\n"
    "conj 0 1\ntighten 3 1 lo 0 1\nend\n",
    "cerbere-proof 3\nnetwork-sha256 0000000000000000000000000000000000000000000000000000000000000000\n"
    "property-sha256 0000000000000000000000000000000000000000000000000000000000000000\ninput-space raw\nboxes 1\nbox 0\nleaf 0\n"
    "beta 1\nconj 0 1\nend\n",
    "cerbere-proof 3\nnetwork-sha256 0000000000000000000000000000000000000000000000000000000000000000\n"
    "property-sha256 0000000000000000000000000000000000000000000000000000000000000000\ninput-space raw\nboxes 1\nbox 0\nleaf 0\n"
    "tighten 3 1 mid 0 1\nconj 0 1\nend\n",
    "cerbere-proof 2\nnetwork-sha256 0000000000000000000000000000000000000000000000000000000000000000\n"
    "property-sha256 0000000000000000000000000000000000000000000000000000000000000000\nboxes 1\nbox 0\nleaf 0\nconj 0 1\nend\n",
    "cerbere-proof 2\nnetwork-sha256 0000000000000000000000000000000000000000000000000000000000000000\n"
    "property-sha256 0000000000000000000000000000000000000000000000000000000000000000\ninput-space both\nboxes 1\nbox 0\nleaf 0\n"
    "conj 0 1\nend\n",
    "cerbere-proof 1\nnetwork-sha256 0000000000000000000000000000000000000000000000000000000000000000\n"
    "property-sha256 0000000000000000000000000000000000000000000000000000000000000000\ninput-space raw\nboxes 1\nbox 0\nleaf 0\n"
    "conj 0 1\nend\n",
    "cerbere-proof 1\nnetwork-sha256 xyz\n",
    "cerbere-proof 1\nnetwork-sha256 0000000000000000000000000000000000000000000000000000000000000000\n"
    "property-sha256 0000000000000000000000000000000000000000000000000000000000000000\nboxes 1\nbox 0\nleaf 0\nconj 0 nan\nend\n",
    "cerbere-proof 1\nnetwork-sha256 0000000000000000000000000000000000000000000000000000000000000000\n"
    "property-sha256 0000000000000000000000000000000000000000000000000000000000000000\nboxes 1\nbox 0\nleaf 0\nconj 0 1\n",
    "cerbere-proof 1\nnetwork-sha256 0000000000000000000000000000000000000000000000000000000000000000\n"
    "property-sha256 0000000000000000000000000000000000000000000000000000000000000000\nboxes 2\nbox 0\nleaf 0\nconj 0 1\nend\n",
  };
  (void)state;
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    proof *pf = NULL;
    cb_error err = {0};
    assert_int_not_equal(proof_parse(bad[k], strlen(bad[k]), &pf, &err), CB_OK);
    assert_null(pf);
    assert_non_null(strstr(err.msg, "line "));
  }
}

/* Version 2 records the input space; version 1 does not (-1). */
static void test_header_input_space(void **state)
{
  static const char *h = "network-sha256 0000000000000000000000000000000000000000000000000000000000000000\n"
                         "property-sha256 0000000000000000000000000000000000000000000000000000000000000000\n";
  static const char *tail = "boxes 1\nbox 0\nleaf 0\nconj 0 1\nend\n";
  const char *v[3] = {"cerbere-proof 2\n", "cerbere-proof 2\n", "cerbere-proof 1\n"};
  const char *sp[3] = {"input-space raw\n", "input-space normalized\n", ""};
  int want[3] = {0, 1, -1};
  (void)state;
  for (int k = 0; k < 3; k++) {
    char text[1024];
    proof *pf = NULL;
    cb_error err = {0};
    snprintf(text, sizeof text, "%s%s%s%s", v[k], h, sp[k], tail);
    assert_int_equal(proof_parse(text, strlen(text), &pf, &err), CB_OK);
    assert_int_equal(pf->input_space, want[k]);
    assert_int_equal(pf->version, k < 2 ? 2 : 1);
    proof_free(pf);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_unit_proofs_valid),
    cmocka_unit_test(test_lp_weighed_rows),
    cmocka_unit_test(test_tamper_leaf_removed),
    cmocka_unit_test(test_tamper_multiplier_negated),
    cmocka_unit_test(test_tamper_split_ulp),
    cmocka_unit_test(test_tight_weight_and_threshold),
    cmocka_unit_test(test_relu_splits),
    cmocka_unit_test(test_tighten_records),
    cmocka_unit_test(test_pchk_bounds),
    cmocka_unit_test(test_relu_route),
    cmocka_unit_test(test_parse_errors),
    cmocka_unit_test(test_header_input_space),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
