/* acifw-muldiv: reads lines "A B C" (decimal) and prints ceil(A*B/C) as the core
 * computes it (saturated at 2^64-1), for tests/firmware to compare with Python.
 * Built with the portable (no __int128) arithmetic the Cortex-R5 uses. */
#include <stdio.h>

#include "aci.h"

int main(void)
{
    unsigned long long a, b, c;
    while (scanf("%llu %llu %llu", &a, &b, &c) == 3)
        printf("%llu\n", (unsigned long long)aci_muldiv_ceil(a, b, c ? c : 1));
    return 0;
}
