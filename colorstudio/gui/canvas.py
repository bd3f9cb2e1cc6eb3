"""The image canvas: zoom/pan, before/after comparison, uncertainty overlay and hint points.

Scene coordinates are source-image pixels, so a hint's (x, y, radius) is drawn and hit-tested as stored
in the session. Preview images (long side ~512) are drawn stretched over the full source rectangle.
The canvas never edits the session: it emits requests that the hints controller turns into undo commands.
"""

from __future__ import annotations

import itertools

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPen, QPixmap, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

from colorstudio.engine.session import Session

__all__ = ["ImageCanvas", "CompareItem", "HintItem", "VIEW_MODES"]

VIEW_MODES = ("gray", "result", "split")
HIT_TOLERANCE_PX = 6.0  # screen pixels around a hint that still grab it
MIN_HINT_PX = 5.0  # a hint is drawn at least this large on screen, whatever the zoom
ZOOM_STEP = 1.25
ZOOM_RANGE = (0.02, 64.0)


class CompareItem(QGraphicsItem):
    """Gray original, colour result, or both split by a vertical line, over the source rectangle."""

    def __init__(self) -> None:
        super().__init__()
        self._rect = QRectF()
        self._gray: QPixmap | None = None
        self._color: QPixmap | None = None
        self.mode = "result"
        self.split = 0.5

    def set_size(self, width: int, height: int) -> None:
        self.prepareGeometryChange()
        self._rect = QRectF(0, 0, width, height)

    def set_images(self, gray: QImage | None, color: QImage | None) -> None:
        self._gray = None if gray is None else QPixmap.fromImage(gray)
        self._color = None if color is None else QPixmap.fromImage(color)
        self.update()

    def set_color(self, color: QImage | None) -> None:
        self._color = None if color is None else QPixmap.fromImage(color)
        self.update()

    def set_mode(self, mode: str, split: float | None = None) -> None:
        self.mode = mode
        if split is not None:
            self.split = min(max(split, 0.0), 1.0)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt API
        return self._rect

    def _draw(self, painter: QPainter, pixmap: QPixmap, fraction_from: float, fraction_to: float) -> None:
        r = self._rect
        target = QRectF(r.left() + r.width() * fraction_from, r.top(), r.width() * (fraction_to - fraction_from), r.height())
        source = QRectF(pixmap.width() * fraction_from, 0, pixmap.width() * (fraction_to - fraction_from), pixmap.height())
        painter.drawPixmap(target, pixmap, source)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if self._gray is None:
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        color = self._color
        if self.mode == "gray" or color is None:
            self._draw(painter, self._gray, 0.0, 1.0)
        elif self.mode == "result":
            self._draw(painter, color, 0.0, 1.0)
        else:
            self._draw(painter, self._gray, 0.0, self.split)
            self._draw(painter, color, self.split, 1.0)
            x = self._rect.left() + self._rect.width() * self.split
            pen = QPen(QColor(255, 255, 255, 220), 2)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawLine(QPointF(x, self._rect.top()), QPointF(x, self._rect.bottom()))


class HintItem(QGraphicsItem):
    """One hint: a disc of the hint's colour with a contrasting ring, at least MIN_HINT_PX on screen."""

    def __init__(self, x: float, y: float, radius: float, color: str, selected: bool, scale: float) -> None:
        super().__init__()
        self.setPos(x, y)
        self.radius = radius
        self.color = QColor(color)
        self.selected = selected
        self.view_scale = scale
        self.setZValue(10)

    def _shown_radius(self) -> float:
        return max(self.radius, MIN_HINT_PX / max(self.view_scale, 1e-6))

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt API
        r = self._shown_radius() + 4.0 / max(self.view_scale, 1e-6)
        return QRectF(-r, -r, 2 * r, 2 * r)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        r = self._shown_radius()
        outer = QPen(QColor(255, 200, 0) if self.selected else QColor(255, 255, 255), 3 if self.selected else 2)
        outer.setCosmetic(True)
        inner = QPen(QColor(0, 0, 0, 180), 1)
        inner.setCosmetic(True)
        painter.setBrush(QBrush(self.color))
        painter.setPen(outer)
        painter.drawEllipse(QPointF(0, 0), r, r)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(inner)
        painter.drawEllipse(QPointF(0, 0), r + 2.0 / max(self.view_scale, 1e-6), r + 2.0 / max(self.view_scale, 1e-6))


class ImageCanvas(QGraphicsView):
    """Zoomable, pannable view of the session's image with hint editing gestures.

    Signals (all coordinates in source pixels):
      ``pick_requested(x, y, index)``: a click that asks for a colour, for a new hint at (x, y) (index -1)
      or for hint ``index`` (a click on it without dragging); ``move_hint(index, x, y, drag_id)`` (live,
      while dragging), ``move_finished(index)``, ``remove_hint(index)``, ``hint_radius(index, radius)``,
      ``hint_selected(index or -1)``, ``point_clicked(x, y)`` (for suggested colours), ``zoom_changed(factor)``,
      ``view_moved()`` (zoom or scroll: overlays placed by view position must follow).
    """

    pick_requested = Signal(float, float, int)
    move_hint = Signal(int, float, float, int)
    move_finished = Signal(int)
    remove_hint = Signal(int)
    hint_radius = Signal(int, float)
    hint_selected = Signal(int)
    point_clicked = Signal(float, float)
    zoom_changed = Signal(float)
    view_moved = Signal()
    files_dropped = Signal(list)

    _drag_ids = itertools.count(1)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.setBackgroundBrush(QColor(38, 38, 40))
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.compare = CompareItem()
        self.scene().addItem(self.compare)
        self.overlay = QGraphicsPixmapItem()
        self.overlay.setZValue(5)
        self.overlay.setVisible(False)
        self.overlay.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.overlay)
        self._hint_items: list[HintItem] = []
        self.selected_hint: int | None = None
        self._space_down = False
        self._pan_from: QPointF | None = None
        self._drag: tuple[int, int] | None = None  # (hint index, drag id)
        self._drag_offset = QPointF()
        self._drag_moved = False
        self._fit_on_resize = True
        self.pending = QGraphicsEllipseItem()  # where a hint is about to be added, while its colour is chosen
        pen = QPen(QColor(255, 255, 255), 2, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self.pending.setPen(pen)
        self.pending.setZValue(11)
        self.pending.setVisible(False)
        self.scene().addItem(self.pending)
        session.events.hints.connect(self.refresh_hints)
        self.horizontalScrollBar().valueChanged.connect(self.view_moved)
        self.verticalScrollBar().valueChanged.connect(self.view_moved)

    # ------------------------------------------------------------------ content
    def set_source(self, width: int, height: int, gray: QImage) -> None:
        self.compare.set_size(width, height)
        self.compare.set_images(gray, None)
        self.overlay.setPixmap(QPixmap())
        self.scene().setSceneRect(QRectF(0, 0, width, height))
        self.selected_hint = None
        self.refresh_hints()
        self.fit()

    def set_result(self, image: QImage | None) -> None:
        self.compare.set_color(image)

    def set_overlay(self, image: QImage | None, opacity: float, visible: bool) -> None:
        if image is not None:
            pixmap = QPixmap.fromImage(image)
            self.overlay.setPixmap(pixmap)
            rect = self.compare.boundingRect()
            if pixmap.width() > 0:
                self.overlay.setTransform(self._stretch(pixmap.width(), pixmap.height(), rect))
        self.overlay.setOpacity(opacity)
        self.overlay.setVisible(visible and not self.overlay.pixmap().isNull())

    @staticmethod
    def _stretch(w: int, h: int, rect: QRectF):
        from PySide6.QtGui import QTransform

        return QTransform.fromScale(rect.width() / w, rect.height() / h)

    def set_view_mode(self, mode: str, split: float | None = None) -> None:
        self.compare.set_mode(mode, split)

    def refresh_hints(self) -> None:
        for item in self._hint_items:
            self.scene().removeItem(item)
        scale = self.current_scale()
        hints = self.session.hints
        if self.selected_hint is not None and self.selected_hint >= len(hints):
            self.selected_hint = None
        self._hint_items = [
            HintItem(h.x, h.y, h.radius, h.color, i == self.selected_hint, scale) for i, h in enumerate(hints)
        ]
        for item in self._hint_items:
            self.scene().addItem(item)

    def set_pending(self, point: tuple[float, float, float] | None) -> None:
        """Mark (x, y, radius) as the place of a hint being added (None: no mark)."""
        if point is None:
            self.pending.setVisible(False)
            return
        x, y, radius = point
        r = max(radius, MIN_HINT_PX / max(self.current_scale(), 1e-6))
        self.pending.setRect(QRectF(x - r, y - r, 2 * r, 2 * r))
        self.pending.setVisible(True)

    def select_hint(self, index: int | None) -> None:
        self.selected_hint = index
        self.refresh_hints()
        self.hint_selected.emit(-1 if index is None else index)

    # ------------------------------------------------------------------ zoom
    def current_scale(self) -> float:
        return float(self.transform().m11())

    def fit(self) -> None:
        rect = self.compare.boundingRect()
        if rect.isEmpty():
            return
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self._fit_on_resize = True
        self._after_zoom()

    def actual_size(self) -> None:
        self.resetTransform()
        self._fit_on_resize = False
        self._after_zoom()

    def zoom_by(self, factor: float) -> None:
        new = self.current_scale() * factor
        if not ZOOM_RANGE[0] <= new <= ZOOM_RANGE[1]:
            return
        self.scale(factor, factor)
        self._fit_on_resize = False
        self._after_zoom()

    def _after_zoom(self) -> None:
        self.refresh_hints()
        self.zoom_changed.emit(self.current_scale())
        self.view_moved.emit()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        if self._fit_on_resize:
            self.fit()

    # ------------------------------------------------------------------ gestures
    def _hint_under(self, scene_pos: QPointF) -> int | None:
        if not self.session.has_image:
            return None
        tolerance = HIT_TOLERANCE_PX / max(self.current_scale(), 1e-6)
        index = self.session.hint_at(scene_pos.x(), scene_pos.y(), tolerance=tolerance)
        if index is None:
            # Small hints are drawn at MIN_HINT_PX; grabbing them must work at that size too.
            tolerance = (MIN_HINT_PX + HIT_TOLERANCE_PX) / max(self.current_scale(), 1e-6)
            index = self.session.hint_at(scene_pos.x(), scene_pos.y(), tolerance=tolerance)
        return index

    def _inside_image(self, pos: QPointF) -> bool:
        return self.session.has_image and self.compare.boundingRect().contains(pos)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space_down):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        scene_pos = self.mapToScene(event.position().toPoint())
        index = self._hint_under(scene_pos)
        if button == Qt.MouseButton.RightButton:
            if index is not None:
                self.remove_hint.emit(index)
            event.accept()
            return
        if button == Qt.MouseButton.LeftButton:
            if index is not None:
                self.select_hint(index)
                hint = self.session.hints[index]
                self._drag = (index, next(self._drag_ids))
                self._drag_moved = False
                self._drag_offset = QPointF(hint.x, hint.y) - scene_pos
                self.point_clicked.emit(hint.x, hint.y)
            elif self._inside_image(scene_pos):
                # No hint yet: its colour is chosen first (suggestions + gamut), then it is added.
                self.point_clicked.emit(scene_pos.x(), scene_pos.y())
                self.pick_requested.emit(scene_pos.x(), scene_pos.y(), -1)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
            event.accept()
            return
        if self._drag is not None:
            pos = self.mapToScene(event.position().toPoint()) + self._drag_offset
            hint = self.session.hints[self._drag[0]]
            if self._drag_moved or abs(pos.x() - hint.x) + abs(pos.y() - hint.y) > 1e-9:
                self._drag_moved = True
                self.move_hint.emit(self._drag[0], pos.x(), pos.y(), self._drag[1])
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self._space_down else Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        if self._drag is not None and event.button() == Qt.MouseButton.LeftButton:
            index = self._drag[0]
            self._drag = None
            if self._drag_moved:
                self.move_finished.emit(index)
            else:  # a click on a hint: choose its colour
                hint = self.session.hints[index]
                self.pick_requested.emit(hint.x, hint.y, index)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt API
        steps = event.angleDelta().y() / 120.0
        if steps == 0:
            return
        index = self._hint_under(self.mapToScene(event.position().toPoint()))
        if index is not None:
            radius = self.session.hints[index].radius
            self.hint_radius.emit(index, max(1.0, radius * (1.15 ** steps)))
        else:
            self.zoom_by(ZOOM_STEP ** steps)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    # ------------------------------------------------------------------ drag and drop of files
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt API
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.files_dropped.emit(paths)
            event.acceptProposedAction()
        else:
            super().dropEvent(event)
