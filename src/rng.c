/* splitmix64 and what is drawn from it (see rng.h). */
#include <math.h>
#include "rng.h"

uint64_t cb_rng_next(uint64_t *s)
{
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double cb_rng_unit(uint64_t *s) { return (double)(cb_rng_next(s) >> 11) * 0x1p-53; }

double cb_rng_normal(uint64_t *s)
{
  double u = cb_rng_unit(s), v = cb_rng_unit(s);
  return sqrt(-2 * log(1 - u)) * cos(6.283185307179586 * v);
}
