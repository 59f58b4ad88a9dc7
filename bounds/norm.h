/*
** The norms of input sets and operators: one enum and one name table for
** every floor above src/ (bounds/ sets, lip/ operator norms and Lipschitz
** constants, certify/, the CLI).  CB_NORM_BOX is a set without a ball (a
** box alone); it has no operator norm, so lip/ refuses it.
*/
#ifndef CB_NORM_H
#define CB_NORM_H

typedef enum cb_norm {
  CB_NORM_INF,   /* ||x||_inf = max |x_i|;  operator: max row sum of |A|    */
  CB_NORM_2,     /* ||x||_2;                operator: spectral norm        */
  CB_NORM_1,     /* ||x||_1 = sum |x_i|;    operator: max column sum of |A| */
  CB_NORM_BOX,   /* no ball: the set is its box [lo, hi]                   */
  CB_NORM_COUNT
} cb_norm;

typedef struct cb_norm_info {
  const char *name;   /* the word of --norm, the JSON and the printed lines: "inf", "2", "1", "box" */
  const char *text;   /* in messages: "L-inf", "L2", "L1", "box" */
} cb_norm_info;

extern const cb_norm_info cb_norm_table[CB_NORM_COUNT];   /* bounds/set.c */

#endif
