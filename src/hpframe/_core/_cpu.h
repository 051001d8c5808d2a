/* What the CPU can do, asked at run time (for hpframe._core to pick a build). */
#ifndef HPFRAME_CPU_H
#define HPFRAME_CPU_H

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define HP_CPU_SUPPORTS(feature) (__builtin_cpu_init(), __builtin_cpu_supports(feature) ? 1 : 0)
#else
#define HP_CPU_SUPPORTS(feature) 0
#endif

static int hp_cpu_has_avx2(void) { return HP_CPU_SUPPORTS("avx2"); }

#endif
