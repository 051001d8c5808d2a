# The columns of a network's layout table: one row per layer, one column per
# number the loops read (see layout.pyx). The one definition; network.pyx
# cimports it and hpframe.estimate_memory reads the same table.
cpdef enum:
    COL_N_IN = 0       # inputs of the layer
    COL_N_OUT = 1      # units (outputs) of the layer
    COL_W = 2          # offset of W_l in params (n_in x n_out, row-major)
    COL_B = 3          # offset of b_l in params
    COL_Z = 4          # offsets into work: the pre-activation Z = H_prev W + b
    COL_A = 5          #   the activation A = f(Z)
    COL_H = 6          #   the layer's output H = A * mask (dropout)
    COL_M = 7          #   the dropout mask (-1: none)
    COL_D = 8          #   dL/dZ, during backward
    N_COLS = 9
