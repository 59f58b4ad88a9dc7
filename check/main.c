/* build/cerbere-check: the proof checker alone, linked from check/ and src/ only. */
#include "check.h"

int main(int argc, char **argv) { return check_main(argc - 1, argv + 1); }
