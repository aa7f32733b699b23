"""Every colour of the studio, in one place: the Okabe-Ito palette (colour-blind safe).

Role is drawn by line style (GT solid, prediction dashed); match outcome by colour.
"""

from __future__ import annotations

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

#: Outcome of one GT or predicted instance (engine.results.InstanceKind, plus "gt" when no run is shown).
KIND_COLOURS = {
    "matched": OKABE_ITO["bluish_green"],
    "mislocalised": OKABE_ITO["sky_blue"],
    "missed": OKABE_ITO["vermillion"],
    "hallucinated": OKABE_ITO["reddish_purple"],
    "duplicate": OKABE_ITO["orange"],
    "gt": OKABE_ITO["yellow"],
}

KIND_LABELS = {
    "matched": "matched (IoU >= 0.5)",
    "mislocalised": "matched, IoU < 0.5",
    "missed": "missed GT",
    "hallucinated": "hallucinated prediction",
    "duplicate": "duplicate prediction",
    "gt": "GT (no run shown)",
}

PLAYHEAD = OKABE_ITO["vermillion"]
QUERY_SHADE = (86, 180, 233, 40)  # sky blue, translucent
WAVEFORM = "#9FB3C8"
TRACK_BACKGROUND = "#1E2228"
TEXT_ON_DARK = "#F2F2F2"
LABEL_BACKGROUND = (0, 0, 0, 170)
SELECTED = OKABE_ITO["yellow"]
#: Marks where runs A and B differ (timeline) and the selected instance (frame, timeline).
DIFFERENCE = "#FFFFFF"
LOOP_SHADE = (240, 228, 66, 45)  # yellow, translucent: the loop range on the timeline


def kind_colour(kind: str | None) -> str:
    return KIND_COLOURS.get(kind or "gt", KIND_COLOURS["gt"])
