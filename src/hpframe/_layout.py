"""Where every number of a network lives: now :mod:`hpframe._core.layout`.

Kept so that ``from hpframe._layout import ...`` keeps working; the layout,
its columns and its sizes are defined once, in the core.
"""
from hpframe._core.layout import (ALIGN, EVAL_ROWS, Layout, aligned,  # noqa: F401
                                  network_layout, team_scratch_size, team_scratch_stride)
