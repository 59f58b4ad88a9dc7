/*
** The commands of the cerbere CLI (cli/, the top floor: not part of
** libcerbere.a).  Each takes the arguments after its name and returns the
** process exit code (report.h: 0 success, 2 usage, 3 input, 4 internal,
** 5 limit; certify also 10, 11, 130); none exits: main() in cli.c is the only
** place that leaves the process.  info and predict live in cli.c itself.
*/
#ifndef CB_CMD_H
#define CB_CMD_H

int cmd_bounds(int argc, char **argv);         /* cmd_bounds.c: bounds NET --data CSV --norm P --eps E */
int cmd_certify(int argc, char **argv);        /* cmd_certify.c: certify NET --data CSV --norm P --eps E --out DIR */
int cmd_merge(int argc, char **argv);          /* cmd_merge.c: merge DIR... --out DIR (certify --shard outputs) */
int cmd_report(int argc, char **argv);         /* cmd_report.c: report --out DIR REPORT.json... */
int cmd_lipschitz(int argc, char **argv);      /* cmd_lipschitz.c: lipschitz NET [--norm P] [--data CSV] */
int cmd_orthonormalize(int argc, char **argv); /* cmd_lipschitz.c: orthonormalize NET -o OUT.onnx */
int check_main(int argc, char **argv);        /* check/check.c: check NET PROP PROOF (the proof checker) */
int cmd_verify(int argc, char **argv);         /* cmd_verify.c: verify NET PROP.vnnlib */
int cmd_jacobian(int argc, char **argv);       /* cmd_jacobian.c: jacobian NET --data CSV [--norm P --eps E] */
int cmd_attribute(int argc, char **argv);      /* cmd_attribute.c: attribute NET --data CSV --method M */
int cmd_audit(int argc, char **argv);          /* cmd_audit.c: audit NET --data CSV --method M --eps E --out DIR */
int cmd_compare_models(int argc, char **argv); /* cmd_compare.c: compare-models --models M... --data CSV --splits S --method M */

#endif
