/* The project's one pseudo-random generator: splitmix64 (Steele, Lea and
** Flood 2014), seeded by the caller, reproducible bit for bit on every
** platform.  Used where a method samples (attributions, Lipschitz lower
** bounds); never where a bound's soundness depends on the draw. */
#ifndef CB_RNG_H
#define CB_RNG_H

#include <stdint.h>

uint64_t cb_rng_next(uint64_t *s);     /* the next 64 bits; advances *s */
double cb_rng_unit(uint64_t *s);       /* uniform in [0, 1), 53 bits */
double cb_rng_normal(uint64_t *s);     /* standard normal (Box-Muller, two draws) */

#endif
