# A team of threads sharing one training step: who owns which share of a layer,
# where the partial sums of a layer's product go, and the barrier they meet at.
#
# Thread t of T owns a contiguous share of every layer's inputs - the rows of
# W_l it multiplies in the forward pass and whose gradient and update it
# computes in the backward pass - and the same share of every layer's units
# (the columns of Z, A, H, M and D). No other thread touches its rows of W or
# their optimizer state, so they stay in its core's cache. Between layers the
# team meets at a barrier (_team.h); with T = 1 (or where C11 atomics are
# missing) the barriers do nothing and the same code runs.
from cython cimport floating


cdef extern from "_team.h" nogil:
    ctypedef struct hp_barrier:
        int size                             # threads in the team
    void hp_barrier_init(hp_barrier* team, int size)
    void hp_barrier_wait(hp_barrier* team)
    ctypedef struct hp_counter:
        pass
    void hp_counter_reset(hp_counter* counter)
    long hp_claim(hp_counter* counter, long n)   # the first of the next n items
    int hp_team_max()                        # 1 where the barrier cannot be built


cdef enum:
    PART_STRIDE = 8                      # doubles per thread in Team.parts: a cache line


cdef struct Team:
    # a team of threads: its barrier, and where threads 1.. put their partial
    # sums of each layer's product (two layers' worth, alternating)
    hp_barrier barrier
    hp_counter rows                      # the batch's rows still to be copied
    double* parts                        # per thread, a cache line apart: its rows'
                                         # loss sum and count of correct predictions
    void* scratch
    Py_ssize_t stride                    # elements of one thread's partial


cdef inline int team_size(int n_threads) noexcept nogil:
    """n_threads, within what this build can run (hp_team_max)."""
    return max(1, min(n_threads, hp_team_max()))


cdef inline void share(Py_ssize_t n, int t, int team, Py_ssize_t* lo,
                       Py_ssize_t* hi) noexcept nogil:
    """Thread t's share [lo, hi) of n units: contiguous, a multiple of 16 wide."""
    cdef Py_ssize_t chunk = (n + team - 1) // team
    if team > 1:
        chunk = (chunk + 15) // 16 * 16
    lo[0] = min(n, t * chunk)
    hi[0] = min(n, lo[0] + chunk)


cdef inline void even_share(Py_ssize_t n, int t, int team, Py_ssize_t* lo,
                            Py_ssize_t* hi) noexcept nogil:
    """Thread t's share [lo, hi) of n items, split as evenly as can be."""
    lo[0] = n * t // team
    hi[0] = n * (t + 1) // team


cdef inline void output_rows(Py_ssize_t b, int t, int team, Py_ssize_t* lo,
                             Py_ssize_t* hi) noexcept nogil:
    """The rows of a batch of b whose output layer thread t finishes (the
    network's forward pass) and whose loss it then computes."""
    even_share(b, t, team, lo, hi)


cdef inline void input_share(Py_ssize_t l, Py_ssize_t n_in, int t, int team,
                             Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """Thread t's share [lo, hi) of layer l's inputs: the rows of W_l it owns.

    A hidden layer's inputs are the units the thread computed in the layer
    below (share). The first layer's are the batch's columns, which no thread
    wrote, so they split evenly (784 inputs: 392 each, not 400 and 384).
    """
    if l > 0:
        share(n_in, t, team, lo, hi)
    else:
        even_share(n_in, t, team, lo, hi)


cdef inline floating* partial_sum(Team* team, floating* z, Py_ssize_t l,
                                  int t) noexcept nogil:
    """Where thread t puts its partial sum of layer l's product: thread 0 into
    the layer's Z (``z``), thread u >= 1 into the team's scratch (layers
    alternate between two areas, so a slow thread still reading layer l's is
    safe)."""
    if t == 0:
        return z
    return <floating*> team.scratch + ((l % 2) * (team.barrier.size - 1) + (t - 1)) * team.stride


cdef inline const floating* add_partial_sums(Team* team, Py_ssize_t l, Py_ssize_t n_in,
                                             Py_ssize_t k, const floating* z, floating* out,
                                             Py_ssize_t m) noexcept nogil:
    """The whole product at elements k:k+m of layer l: thread 0's partial sum
    ``z`` plus those of threads 1.. that had inputs, added in thread order (so
    the result never depends on timing) into ``out``. Returns where the sum is:
    ``out``, or ``z`` itself when no other thread had inputs."""
    cdef Py_ssize_t j, r0, r1
    cdef int u
    cdef const floating* first = z
    cdef const floating* partial
    for u in range(1, team.barrier.size):
        input_share(l, n_in, u, team.barrier.size, &r0, &r1)
        if r1 > r0:
            partial = partial_sum(team, <floating*> NULL, l, u) + k
            for j in range(m):
                out[j] = first[j] + partial[j]
            first = out
    return first
