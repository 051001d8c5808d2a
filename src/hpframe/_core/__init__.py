"""hpframe's compiled core.

Every module here is Cython compiled with one set of directives (see ``setup.py``).
The loops check nothing, allocate nothing and run without the GIL; the Python layer
(:mod:`hpframe.ops`, :class:`hpframe.Trainer`) validates and allocates.
"""
CORE_MODULES = ("_blas", "activations", "losses", "dropout", "optimizers", "network")
