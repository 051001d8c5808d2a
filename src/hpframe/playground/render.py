"""Pictures as arrays: the decision-boundary image, and PNG thumbnails of it.

NumPy (and Pillow, which Bokeh installs, for the thumbnails); no web code.
"""
import base64
import io

import numpy as np

__all__ = ["PALETTE", "boundary_rgba", "png_data_uri"]

#: one colour per class (colour-blind safe: blue, orange, green)
PALETTE = ("#0072b2", "#e69f00", "#009e73")


def _rgb(hex_colour):
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.float64)


def boundary_rgba(proba, shape):
    """Colour each grid point by its predicted class, paler where the model is unsure.

    Parameters
    ----------
    proba : ndarray of shape (n_points, n_classes)
        Class probabilities on the grid (rows: x fastest, then y).
    shape : tuple (rows, cols)

    Returns
    -------
    ndarray of shape (rows, cols, 4), uint8
        RGBA; grey where the probabilities are not finite (a diverged model).
    """
    proba = np.asarray(proba, dtype=np.float64)
    k = proba.shape[1]
    colours = np.stack([_rgb(c) for c in PALETTE[:k]])
    with np.errstate(invalid="ignore"):
        mix = proba @ colours                                  # expected colour
        confidence = (proba.max(axis=1) - 1.0 / k) / (1.0 - 1.0 / k)
        rgb = 255.0 + (mix - 255.0) * (0.15 + 0.55 * confidence[:, None])
    bad = ~np.isfinite(rgb).all(axis=1)
    rgb[bad] = 160.0
    out = np.empty((len(proba), 4), dtype=np.uint8)
    out[:, :3] = np.clip(rgb, 0, 255).astype(np.uint8)
    out[:, 3] = 255
    return out.reshape(*shape, 4)


def png_data_uri(rgba, points=None, extent=None, colours=PALETTE):
    """A ``data:image/png`` URI of an RGBA image, optionally with points drawn on it.

    ``points`` is ``(X, y)`` in data coordinates and ``extent`` is
    ``(x0, x1, y0, y1)`` of the image. The URI embeds the picture in the page, so
    nothing is fetched from anywhere.
    """
    from PIL import Image, ImageDraw

    img = Image.fromarray(np.ascontiguousarray(rgba[::-1]), "RGBA")   # row 0 at the top
    if points is not None:
        draw = ImageDraw.Draw(img)
        X, y = points
        h, w = rgba.shape[:2]
        x0, x1, y0, y1 = extent
        px = (X[:, 0] - x0) / (x1 - x0) * (w - 1)
        py = (1 - (X[:, 1] - y0) / (y1 - y0)) * (h - 1)
        for a, b, label in zip(px, py, y):
            draw.ellipse((a - 1.5, b - 1.5, a + 1.5, b + 1.5), fill=colours[int(label)],
                         outline="#333333")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
