/* The proof checker's command (check/check.c): `cerbere check` and build/cerbere-check. */
#ifndef CB_CHECK_H
#define CB_CHECK_H
int check_main(int argc, char **argv);   /* argv without the command name; an exit code */
#endif
