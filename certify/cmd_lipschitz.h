/*
** The `lipschitz` and `orthonormalize` commands of the CLI.  Each takes the
** arguments after the command name and returns the process exit code
** (0 success, 2 usage, 3 input, 4 internal); neither exits.
*/
#ifndef CB_CMD_LIPSCHITZ_H
#define CB_CMD_LIPSCHITZ_H

int cmd_lipschitz(int argc, char **argv);      /* cerbere lipschitz NET [--norm ..] [--data CSV] [--json OUT] */
int cmd_orthonormalize(int argc, char **argv); /* cerbere orthonormalize NET -o OUT.onnx [...] */

#endif
