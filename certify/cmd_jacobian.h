/*
** The `jacobian` command of the CLI: takes the arguments after the command
** name and returns the process exit code (0 success, 2 usage, 3 input,
** 4 internal); it does not exit.
*/
#ifndef CB_CMD_JACOBIAN_H
#define CB_CMD_JACOBIAN_H

int cmd_jacobian(int argc, char **argv);   /* cerbere jacobian NET --data CSV [--norm P --eps E] [...] */

#endif
