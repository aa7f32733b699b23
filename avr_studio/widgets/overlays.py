"""Boxes on the frame: GT solid, prediction dashed, colour = the engine's match outcome; predicted
boxes are draggable/resizable ROIs whose edits go to the Edits model (what-if).

Rectangles and labels are pooled (`ItemPool`): a new item or frame moves and re-labels the ones on
the view instead of building new graphics items (a text item costs about a millisecond to make)."""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QGraphicsRectItem

from avr_studio.models.overlay import OverlayBox
from avr_studio.palette import LABEL_BACKGROUND, TEXT_ON_DARK, kind_colour
from avr_studio.widgets.item_layer import ItemPool

BOX_WIDTH = 3
Slot = tuple[str | None, int, int]


def _pen(kind: str, dashed: bool, width: float = BOX_WIDTH):
    pen = pg.mkPen(kind_colour(kind), width=width)
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


class BoxOverlay:
    """Draws OverlayBoxes into a ViewBox. Predicted-box ROIs are kept while the set of boxes is the
    same (so a drag survives the live re-score); everything else is redrawn."""

    def __init__(self, view: pg.ViewBox, on_box_edited: Callable[[Slot, tuple], None],
                 on_drag_finished: Callable[[], None] = lambda: None) -> None:
        self.view = view
        self.on_box_edited = on_box_edited
        self.on_drag_finished = on_drag_finished
        self.boxes: list[OverlayBox] = []
        self.rois: dict[Slot, pg.RectROI] = {}
        self._spare: list[pg.RectROI] = []  # hidden ROIs kept for reuse: building one costs ~10 ms
        self._slot_of: dict[int, Slot] = {}  # id(roi) -> the slot it edits now
        self._static = ItemPool(view)  # GT boxes and labels, redrawn per frame
        self._selected = ItemPool(view)  # outline of the boxes of the WCS row picked in the panel
        self.selected: list[OverlayBox] = []
        self._dragging: Slot | None = None
        self.frame_width = 0.0

    def render(self, boxes: list[OverlayBox]) -> None:
        self.boxes = boxes
        self._static.begin()
        preds = {b.slot: b for b in boxes if b.role == "pred" and b.slot is not None}
        if set(preds) != set(self.rois):
            self._clear_rois()
            for slot, box in preds.items():
                self.rois[slot] = self._make_roi(slot, box)
        for slot, box in preds.items():
            roi = self.rois[slot]
            roi.setPen(_pen(box.kind, dashed=True))
            if slot != self._dragging:
                self._place(roi, box.box)
        for box in boxes:
            if box.role == "gt":
                self._add_gt(box)
            self._add_label(box)
        self._static.end()

    def _make_roi(self, slot: Slot, box: OverlayBox) -> pg.RectROI:
        """A spare ROI if there is one (moved and shown), else a new one."""
        if self._spare:
            roi = self._spare.pop()
            self._slot_of[id(roi)] = slot
            self._place(roi, box.box)
            roi.show()
            return roi
        x1, y1, x2, y2 = box.box
        roi = pg.RectROI([x1, y1], [x2 - x1, y2 - y1], pen=_pen(box.kind, True), movable=True,
                         rotatable=False, resizable=True, removable=False)
        roi.addScaleHandle([0, 0], [1, 1])
        roi.setZValue(20)
        self._slot_of[id(roi)] = slot
        roi.sigRegionChangeStarted.connect(lambda r: self._drag_started(self._slot_of[id(r)]))
        roi.sigRegionChanged.connect(lambda r: self._roi_moved(self._slot_of[id(r)], r))
        roi.sigRegionChangeFinished.connect(lambda _r: self._drag_finished())
        self.view.addItem(roi)
        return roi

    @staticmethod
    def _place(roi: pg.RectROI, box) -> None:
        x1, y1, x2, y2 = box
        roi.setPos((x1, y1), update=False, finish=False)
        roi.setSize((x2 - x1, y2 - y1), update=True, finish=False)

    def _drag_started(self, slot: Slot) -> None:
        self._dragging = slot

    def _roi_moved(self, slot: Slot, roi: pg.RectROI) -> None:
        if self._dragging != slot:
            return  # moved by _place, not by the user
        pos, size = roi.pos(), roi.size()
        self.on_box_edited(slot, (pos.x(), pos.y(), pos.x() + size.x(), pos.y() + size.y()))

    def _drag_finished(self) -> None:
        self._dragging = None
        self.on_drag_finished()

    def _add_gt(self, box: OverlayBox) -> None:
        _set_rect(self._static.take("gt", lambda: _rect_item(10)), box.box, _pen(box.kind, dashed=False))

    def _add_label(self, box: OverlayBox) -> None:
        """GT names above their box, predictions (with the engine's IoU) below; labels of boxes
        near the right edge grow leftwards so they stay on the frame."""
        text = box.name if box.iou is None or box.role == "gt" else f"{box.name}  IoU {box.iou:.2f}"
        x1, y1, x2, y2 = box.box
        right_side = self.frame_width > 0 and x2 > 0.8 * self.frame_width
        anchor = (1.0 if right_side else 0.0, 1.0 if box.role == "gt" else 0.0)
        label = self._static.take("label", lambda: _label_item(LABEL_BACKGROUND))
        _set_label(label, text, kind_colour(box.kind), anchor, (x2 if right_side else x1, y1 if box.role == "gt" else y2))


    def highlight(self, boxes: list[OverlayBox]) -> None:
        """Outline the picked row's boxes (a wide translucent white frame under the coloured one)."""
        self._selected.begin()
        self.selected = boxes
        for box in boxes:
            _set_rect(self._selected.take("outline", lambda: _rect_item(5)), box.box,
                      pg.mkPen((255, 255, 255, 200), width=BOX_WIDTH * 3))
        self._selected.end()

    def _clear_rois(self) -> None:
        for roi in self.rois.values():
            roi.hide()
            self._spare.append(roi)
        self.rois.clear()
        self._dragging = None

    def clear(self) -> None:
        self._static.clear()
        self._selected.clear()
        self.selected = []
        self._clear_rois()
        self.boxes = []

    def drag_to(self, slot: Slot, box: tuple) -> None:
        """Move a predicted box as a user drag would (tests and keyboard nudges use this)."""
        roi = self.rois[slot]
        self._dragging = slot
        roi.setPos((box[0], box[1]), update=False, finish=False)
        roi.setSize((box[2] - box[0], box[3] - box[1]), update=True, finish=False)
        self._drag_finished()


#: Compare view: each run's boxes in its own line style and label colour; the outcome stays the
#: box colour (the engine's match kind) so "why does A beat B" reads off the frame.
RUN_STYLES = {
    "A": (Qt.PenStyle.DashLine, (0, 60, 110, 210)),  # dashed, labels on dark blue
    "B": (Qt.PenStyle.DotLine, (110, 60, 0, 210)),  # dotted, labels on dark orange
    "GT": (Qt.PenStyle.SolidLine, LABEL_BACKGROUND),
}


class RunLayer:
    """One run's boxes (or the GT's) in the compare view, with its own visibility and opacity
    (toggled like napari's layers). Not editable: what-if edits happen in the single-run view."""

    def __init__(self, view: pg.ViewBox, tag: str) -> None:
        self.tag = tag
        self.pen_style, self.label_fill = RUN_STYLES[tag]
        self._layer = ItemPool(view)
        self.boxes: list[OverlayBox] = []
        self.visible = True
        self.opacity = 1.0
        self.frame_width = 0.0

    def render(self, boxes: list[OverlayBox]) -> None:
        self._layer.begin()
        self.boxes = boxes
        z = 10 if self.tag == "GT" else 20
        for box in boxes:
            pen = pg.mkPen(kind_colour("gt" if self.tag == "GT" else box.kind), width=BOX_WIDTH)
            pen.setStyle(self.pen_style)
            _set_rect(self._layer.take("rect", lambda: _rect_item(z)), box.box, pen)
            self._label(box)
        self._layer.end()
        self._apply()

    def _label(self, box: OverlayBox) -> pg.TextItem:
        prefix = "" if self.tag == "GT" else f"{self.tag} "
        text = prefix + (box.name if box.iou is None else f"{box.name}  IoU {box.iou:.2f}")
        x1, y1, x2, y2 = box.box
        # GT names above the box; A's label just below it, B's one line lower; near the right
        # edge they grow leftwards so they stay on the frame
        right_side = self.frame_width > 0 and x2 > 0.8 * self.frame_width
        anchor_y = {"GT": 1.0, "A": 0.0, "B": -1.05}[self.tag]
        label = self._layer.take("label", lambda: _label_item(self.label_fill))
        _set_label(label, text, kind_colour("gt" if self.tag == "GT" else box.kind),
                   (1.0 if right_side else 0.0, anchor_y), (x2 if right_side else x1, y1 if self.tag == "GT" else y2))
        return label

    def set_visible(self, visible: bool) -> None:
        self.visible = visible
        self._apply()

    def set_opacity(self, opacity: float) -> None:
        self.opacity = min(1.0, max(0.0, opacity))
        self._apply()

    def _apply(self) -> None:
        for item in self.items():
            item.setVisible(self.visible)
            item.setOpacity(self.opacity)

    def items(self) -> list:
        return list(self._layer._items)

    def clear(self) -> None:
        self._layer.clear()
        self.boxes = []


def _rect_item(z: float) -> QGraphicsRectItem:
    rect = QGraphicsRectItem()
    rect.setZValue(z)
    return rect


def _set_rect(rect: QGraphicsRectItem, box, pen) -> None:
    x1, y1, x2, y2 = box
    rect.setRect(QRectF(x1, y1, x2 - x1, y2 - y1))
    rect.setPen(pen)


def _label_item(fill) -> pg.TextItem:
    label = pg.TextItem("", color=TEXT_ON_DARK, fill=pg.mkBrush(fill))
    label.setZValue(30)
    return label


def _set_label(label: pg.TextItem, text: str, border: str, anchor: tuple[float, float], pos: tuple[float, float]) -> None:
    """A pooled label's text, border colour, anchor and place (each only if it changed)."""
    label.setPlainText(text)
    pen = pg.mkPen(border)
    if label.border.color() != pen.color():
        label.border = pen
        label.update()
    if tuple(label.anchor) != tuple(anchor):
        label.setAnchor(anchor)
    label.setPos(*pos)
