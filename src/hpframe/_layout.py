"""Where every number of a network lives: now :mod:`hpframe._core.layout`.

Kept so that ``from hpframe._layout import ...`` keeps working; the layout,
its columns and its sizes are defined once, in the core.
"""
from hpframe._core.layout import (ALIGN, COL_A, COL_B, COL_D, COL_H, COL_M,  # noqa: F401
                                  COL_N_IN, COL_N_OUT, COL_W, COL_Z, EVAL_ROWS, N_COLS,
                                  Layout, aligned, network_layout, team_scratch_size,
                                  team_scratch_stride)
