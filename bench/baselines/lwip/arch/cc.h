/* lwIP port header for the bench's Linux build (x86-64, glibc): lwip/arch.h
 * supplies the integer types and the diagnostic macros; only what differs
 * from its defaults is here. */
#ifndef BENCH_LWIP_ARCH_CC_H
#define BENCH_LWIP_ARCH_CC_H

#include <stdio.h>
#include <stdlib.h>

#define LWIP_PLATFORM_ASSERT(x) do { fprintf(stderr, "lwIP assertion: %s (%s:%d)\n", \
                                     x, __FILE__, __LINE__); abort(); } while (0)
#define LWIP_RAND() ((u32_t)random())

#endif
