/* The barrier at which a team of threads sharing a training step meets.

   The threads are ordinary Python threads that released the GIL (see
   Network._run_team); this barrier, and a counter from which they claim the
   rows of the batch to copy, are the only synchronisation between them.

   Between two layers a thread waits for its partner for microseconds when the
   machine is quiet, so it spins (with the CPU's pause hint): going to sleep and
   being woken costs more than the wait. When the partner has been descheduled
   - another process is busy on its core - spinning burns the very core the
   partner needs (OpenMP's barriers spin so long that a busy two-core machine
   then trains ten times slower than on one thread). So the spin is adaptive:
   a wait that outlasts its spin budget sleeps (a futex on Linux; elsewhere the
   waiter yields the CPU) and cuts the budget to a quarter; each wait that ends
   while spinning grows it back by a sixteenth.

   Where C11 atomics are missing (MSVC), teams are one thread: hp_team_max() is 1. */
#ifndef HPFRAME_TEAM_H
#define HPFRAME_TEAM_H

#if !defined(_MSC_VER) && !defined(__STDC_NO_ATOMICS__)

#include <stdatomic.h>
#include <limits.h>
#include <sched.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#define HP_SPIN_MAX 20000   /* pause rounds before sleeping, at most ... */
#define HP_SPIN_MIN 200     /* ... and at least */

typedef struct {
    int size;               /* threads in the team */
    atomic_int arrived;     /* threads at the current barrier */
    atomic_int generation;  /* barriers completed: the value waiters watch */
    atomic_int sleepers;    /* waiters that gave up spinning */
    atomic_int spin;        /* the adaptive spin budget */
} hp_barrier;

static int hp_team_max(void) { return INT_MAX; }

static void hp_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void hp_sleep_while(atomic_int* word, int value) {
#if defined(__linux__)
    /* returns at once if *word != value; otherwise sleeps until woken */
    syscall(SYS_futex, (int*)word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
#else
    (void)word; (void)value;
    sched_yield();
#endif
}

static void hp_wake_all(atomic_int* word) {
#if defined(__linux__)
    syscall(SYS_futex, (int*)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#else
    (void)word;
#endif
}

static void hp_barrier_init(hp_barrier* b, int size) {
    b->size = size;
    atomic_init(&b->arrived, 0);
    atomic_init(&b->generation, 0);
    atomic_init(&b->sleepers, 0);
    atomic_init(&b->spin, HP_SPIN_MAX);
}

/* Work handed out in turns: a thread claims the next n items with
   hp_claim (the index of its first; past the end when none are left). */
typedef struct { atomic_long next; } hp_counter;

static void hp_counter_reset(hp_counter* c) { atomic_store(&c->next, 0); }
static long hp_claim(hp_counter* c, long n) { return atomic_fetch_add(&c->next, n); }

/* Return once every thread of the team has called it. It also orders memory:
   whatever a thread wrote before the barrier, every thread sees after it. */
static void hp_barrier_wait(hp_barrier* b) {
    int gen, i, budget;
    if (b->size <= 1)
        return;
    gen = atomic_load(&b->generation);
    if (atomic_fetch_add(&b->arrived, 1) == b->size - 1) {
        atomic_store(&b->arrived, 0);       /* the last one in opens the barrier */
        atomic_fetch_add(&b->generation, 1);
        if (atomic_load(&b->sleepers) > 0)
            hp_wake_all(&b->generation);
        return;
    }
    budget = atomic_load_explicit(&b->spin, memory_order_relaxed);
    for (i = 0; i < budget; i++) {
        if (atomic_load_explicit(&b->generation, memory_order_acquire) != gen) {
            if (budget < HP_SPIN_MAX)
                atomic_store_explicit(&b->spin, budget + budget / 16 + 1, memory_order_relaxed);
            return;
        }
        hp_pause();
    }
    atomic_store_explicit(&b->spin, budget / 4 > HP_SPIN_MIN ? budget / 4 : HP_SPIN_MIN,
                          memory_order_relaxed);
    atomic_fetch_add(&b->sleepers, 1);
    while (atomic_load(&b->generation) == gen)
        hp_sleep_while(&b->generation, gen);
    atomic_fetch_sub(&b->sleepers, 1);
}

#else

typedef struct { int size; } hp_barrier;
typedef struct { long next; } hp_counter;
static int hp_team_max(void) { return 1; }
static void hp_counter_reset(hp_counter* c) { c->next = 0; }
static long hp_claim(hp_counter* c, long n) { long first = c->next; c->next += n; return first; }
static void hp_barrier_init(hp_barrier* b, int size) { b->size = size; }
static void hp_barrier_wait(hp_barrier* b) { (void)b; }

#endif
#endif
