/* The proof checker's command (check/check.c): `cerbere check` and build/cerbere-check. */
#ifndef CB_CHECK_H
#define CB_CHECK_H
#include <stddef.h>
#include "cb.h"
int check_main(int argc, char **argv);   /* argv without the command name; an exit code */
/* certs.c: `cerbere check NET DIR/certificates.json [--data FILE]`, the
   per-sample proofs of certify --proof; an exit code (0 valid, 1 invalid,
   3 input error). */
int check_certs(const char *net_path, const char *json_path, const char *data_override);
/* The whole file (cb_alloc'd, *len bytes); NULL and err on failure. */
char *check_read_file(const char *path, size_t *len, cb_error *err);
#endif
