"""Small shared helpers for what hpframe shows a person: text and plots."""


class Text(str):
    """A ``str`` whose ``repr`` is the text itself.

    A notebook cell then shows readable lines instead of one quoted string
    with ``\\n`` escapes; ``print()``, concatenation and the docs use it as
    any ``str``.
    """

    __slots__ = ()

    def __repr__(self):
        return str(self)


def pyplot(what):
    """``matplotlib.pyplot``, or an ImportError saying how to install it for ``what``."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(f'{what} needs matplotlib: pip install "hpframe[plot]" '
                          "(or pip install matplotlib)") from None
    return plt
