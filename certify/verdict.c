/* The verdict name table (verdict.h). */
#include <assert.h>
#include "verdict.h"

const cb_verdict_info cb_verdict_table[V_COUNT] = {
  [V_UNKNOWN]   = {"unknown", "unknown"},
  [V_VERIFIED]  = {"verified", "unsat"},
  [V_FALSIFIED] = {"falsified", "sat"},
  [V_TIMEOUT]   = {"timeout", "timeout"},
  [V_ERROR]     = {"error", "error"},
};
static_assert(V_COUNT == 5, "a new verdict needs its row in cb_verdict_table");
