/*
** Shared helpers for the cmocka tests.  Tests run from the repository root.
** shared_dir() is ../shared (or $CB_SHARED); a test that needs it prints
** "SKIPPED: ..." on stdout and skips when it is absent.
*/
#ifndef CB_TESTUTIL_H
#define CB_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "net.h"
#include "forward.h"

static inline const char *shared_dir(void)
{
  const char *e = getenv("CB_SHARED");
  return e && e[0] ? e : "../shared";
}

static inline int shared_present(const char *what)
{
  struct stat st;
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", shared_dir(), what);
  if (stat(p, &st) == 0) return 1;
  printf("SKIPPED: %s not found (../shared absent); this test runs in CI\n", p);
  return 0;
}

/* Whole file as a NUL-terminated string (caller frees), NULL if unreadable. */
static inline char *slurp(const char *path)
{
  FILE *f = fopen(path, "rb");
  long n;
  char *s;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  s = malloc((size_t)n + 1);
  if (s && fread(s, 1, (size_t)n, f) != (size_t)n) { free(s); s = NULL; }
  if (s) s[n] = 0;
  fclose(f);
  return s;
}

static inline cJSON *load_json(const char *path)
{
  char *s = slurp(path);
  cJSON *j = s ? cJSON_Parse(s) : NULL;
  free(s);
  return j;
}

/* Loads a net or fails the test with the loader's message. */
static inline cb_net *must_load(const char *path)
{
  cb_net *net = NULL;
  cb_error err = {0};
  if (cb_net_load(path, &net, &err) != CB_OK) fail_msg("%s", err.msg);
  return net;
}

static inline cb_data *must_csv(const char *path, size_t n)
{
  cb_data *d = NULL;
  cb_error err = {0};
  if (cb_data_load_csv(path, n, &d, &err) != CB_OK) fail_msg("%s", err.msg);
  return d;
}

/* Forward pass of all rows of d; caller frees. */
static inline double *forward_rows(const cb_net *net, const cb_data *d)
{
  size_t rows = cb_data_rows(d), no = cb_net_output_size(net);
  double *y = calloc(rows * no, sizeof *y);
  cb_error err = {0};
  assert_non_null(y);
  if (cb_net_forward(net, cb_data_x(d, 0), rows, y, &err) != CB_OK) fail_msg("%s", err.msg);
  return y;
}

/* The cerbere binary of the build this test was run from (argv0
   B/tests/test_x -> B/cerbere).  The CLI (cli/) is not in libcerbere.a, so a
   test checks a command end to end by running the binary (cerbere_run). */
static inline void cerbere_bin(const char *argv0, char *out, size_t cap)
{
  char *slash;
  snprintf(out, cap, "%s", argv0);
  for (int up = 0; up < 2; up++) {
    slash = strrchr(out, '/');
    if (slash) *slash = 0; else snprintf(out, cap, ".");
  }
  if (strlen(out) + 9 < cap) strcat(out, "/cerbere");
}

/* Runs "BIN ARGS" (ARGS from fmt, shell syntax) and returns its exit code,
   -1 if it did not exit normally. */
static inline int cerbere_run(const char *bin, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int cerbere_run(const char *bin, const char *fmt, ...)
{
  char cmd[8192];
  int n = snprintf(cmd, sizeof cmd, "%s ", bin), rc;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
  va_end(ap);
  rc = system(cmd);
  return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Simple deterministic RNG (xorshift64*), uniform in [0,1). */
/* Scratch files of one test binary: tmp_setup makes a fresh directory
   (cmocka group setup), tmp_write puts a file in it, tmp_teardown removes
   every file written and the directory. */
typedef struct tmp_files { char path[64][128]; int n; } tmp_files;
static inline char *tmp_dir(void) { static char d[64]; return d; }
static inline tmp_files *tmp_state(void) { static tmp_files t; return &t; }

static inline int tmp_setup(const char *prefix)
{
  snprintf(tmp_dir(), 64, "/tmp/%.40s_XXXXXX", prefix);
  return mkdtemp(tmp_dir()) ? 0 : -1;
}

static inline const char *tmp_write(const char *name, const void *bytes, size_t len)
{
  tmp_files *t = tmp_state();
  char *path;
  FILE *f;
  assert_true(t->n < 64);
  path = t->path[t->n++];
  snprintf(path, sizeof t->path[0], "%.63s/%.60s", tmp_dir(), name);
  f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(bytes, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
  return path;
}

static inline int tmp_teardown(void)
{
  tmp_files *t = tmp_state();
  for (int i = 0; i < t->n; i++) unlink(t->path[i]);
  return rmdir(tmp_dir());
}

static inline double urand(uint64_t *s)
{
  *s ^= *s >> 12; *s ^= *s << 25; *s ^= *s >> 27;
  return (double)((*s * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* Calls check(dir, name) on every *.onnx file of dir; the sum of what it
   returns (the nets it checked). */
static inline int each_onnx(const char *dir, int (*check)(const char *dir, const char *name))
{
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  assert_non_null(d);
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len > 5 && !strcmp(e->d_name + len - 5, ".onnx")) n += check(dir, e->d_name);
  }
  closedir(d);
  return n;
}

#endif
