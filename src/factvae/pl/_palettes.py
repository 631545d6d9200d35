"""Colours: the one palette for domains, in napari and in the static pictures alike."""

from __future__ import annotations


def palette(n: int) -> list[str]:
    """n hex colours: colour-blind-safe up to 10, distinguishable up to 30 (datasets.PALETTE);
    beyond that the 30 and then evenly spaced colours of a long colormap."""
    from ._palettes import PALETTE

    if n <= len(PALETTE):
        return PALETTE[:n]
    import matplotlib

    cmap = matplotlib.colormaps["gist_ncar"]
    extra = n - len(PALETTE)
    return PALETTE + [matplotlib.colors.to_hex(cmap(0.05 + 0.9 * i / extra)) for i in range(extra)]


# Domain colours. The first 10: Okabe-Ito (black left out: it vanishes on a dark canvas) and
# three more picked to stay apart under simulated protan-, deuter- and tritanopia (CIEDE2000
# >= 10.9 between any two, as Okabe-Ito's own). The next 20: picked greedily from glasbey and
# tab20 colours of mid lightness (seen on a black canvas and on H&E), CIEDE2000 >= 14 for all 30.
PALETTE = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
           "#A13B72", "#BDE6BF", "#F7B6D2",
           "#706B01", "#8C3BFF", "#FF1C44", "#00EB01", "#00D6D4", "#85A301", "#BCB6FF",
           "#8C564B", "#FFA079", "#038287", "#018700", "#E452FF", "#876EB1", "#E1CD9C",
           "#8E8C5E", "#0CE8A1", "#8287FF", "#8E6D49", "#D60000", "#C16E72"]
