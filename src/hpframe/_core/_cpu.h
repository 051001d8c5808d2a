/* What the CPU can do, asked at run time (for hpframe._core to pick a build). */
#ifndef HPFRAME_CPU_H
#define HPFRAME_CPU_H

static int hp_cpu_has_avx2(void) {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
    return 0;
#endif
}

#endif
