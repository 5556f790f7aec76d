"""A verify report drawn as a card: a header with an icon and the verdict in its colour, the
file's name, then label / value rows and a list of the recorded marks (report_card.Card).

A UI module (imports PySide6).
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from plugins.provenance.report_card import BAD, GOOD, PLAIN, WARN, Card, Row

TONE_COLOURS = {GOOD: "#5cc98a", WARN: "#e0b050", BAD: "#ff6b6b", PLAIN: ""}
ICON_SIZE = 28
MIN_VALUE_WIDTH = 60
STACK_BELOW = 380  # px of card width under which labels go above their values


class ReportCard(QFrame):
    """One file's report; `text` is the same report as plain text (Copy puts it on the
    clipboard)."""

    def __init__(self, card: Card, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.card, self.text = card, text
        self.setObjectName("reportCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        column = QVBoxLayout(self)
        column.setContentsMargins(10, 8, 10, 10)
        column.setSpacing(6)
        column.addLayout(self._header())
        self.form = QFormLayout()
        self.form.setHorizontalSpacing(12)
        self.form.setVerticalSpacing(4)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for row in card.rows:
            self.form.addRow(_label(row.label), value_label(row))
        if card.marks:
            self.form.addRow(_label("Marks"), _mark_list(card.marks))
        column.addLayout(self.form)

    def _header(self) -> QHBoxLayout:
        icon = QLabel()
        icon.setPixmap(tone_icon(self.card.tone, ICON_SIZE))
        icon.setFixedSize(ICON_SIZE, ICON_SIZE)
        icon.setAccessibleName(self.card.tone or "note")
        self.verdict = QLabel(self.card.verdict)
        self.verdict.setObjectName("verdict")
        self.verdict.setWordWrap(True)
        font = QFont(self.verdict.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.verdict.setFont(font)
        self.verdict.setStyleSheet(_colour_style(self.card.tone))
        name = QLabel(self.card.title)
        name.setToolTip(self.card.subtitle)
        name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        _mute(name)
        copy = QToolButton()
        copy.setText("Copy")
        copy.setToolTip("Copy this report as text")
        copy.setAutoRaise(True)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.text))
        words = QVBoxLayout()
        words.setSpacing(0)
        words.addWidget(self.verdict)
        words.addWidget(name)
        header = QHBoxLayout()
        header.setSpacing(10)
        header.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        header.addLayout(words, 1)
        header.addWidget(copy, 0, Qt.AlignmentFlag.AlignTop)
        return header

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """In a narrow dock each label goes above its value, so values keep room to read."""
        super().resizeEvent(event)
        wrap = QFormLayout.RowWrapPolicy
        policy = wrap.WrapAllRows if self.width() < STACK_BELOW else wrap.DontWrapRows
        if self.form.rowWrapPolicy() != policy:
            self.form.setRowWrapPolicy(policy)

    def value_of(self, label: str) -> str:
        """The text shown beside `label` ("" when the card has no such row)."""
        for index in range(self.form.rowCount()):
            name = self.form.itemAt(index, QFormLayout.ItemRole.LabelRole)
            if name is not None and name.widget().text() == label:
                field = self.form.itemAt(index, QFormLayout.ItemRole.FieldRole).widget()
                return field.text() if isinstance(field, QLabel) else ""
        return ""


def _label(text: str) -> QLabel:
    label = QLabel(text)
    _mute(label)
    return label


def _mute(label: QLabel) -> None:
    """Quieter than the values: the palette's placeholder colour, whatever the theme."""
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)


def value_label(row: Row) -> QLabel:
    """A row's value: selectable, wrapped, in its tone's colour."""
    value = QLabel(row.value)
    value.setWordWrap(True)
    # a long path or number wraps or is cut at the card's edge instead of widening the card
    value.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    value.setMinimumWidth(MIN_VALUE_WIDTH)
    value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    value.setStyleSheet(_colour_style(row.tone))
    return value


def _mark_list(marks: tuple[Row, ...]) -> QWidget:
    """One line per recorded mark: a dot in its tone, its id, and what was read where."""
    box = QWidget()
    box.setObjectName("marks")
    lines = QVBoxLayout(box)
    lines.setContentsMargins(0, 0, 0, 0)
    lines.setSpacing(2)
    for mark in marks:
        line = QHBoxLayout()
        line.setSpacing(6)
        dot = QLabel()
        dot.setPixmap(tone_icon(mark.tone, 12))
        line.addWidget(dot, 0, Qt.AlignmentFlag.AlignTop)
        text = value_label(Row("", f"<b>{escape(mark.label)}</b> {escape(mark.value)}"))
        text.setTextFormat(Qt.TextFormat.RichText)
        text.setAccessibleName(f"{mark.label} {mark.value}")
        line.addWidget(text, 1)
        lines.addLayout(line)
    return box


def _colour_style(tone: str) -> str:
    colour = TONE_COLOURS.get(tone, "")
    return f"color: {colour};" if colour else ""


def tone_icon(tone: str, size: int) -> QPixmap:
    """A filled circle in the tone's colour with a check (good), an exclamation mark (warn),
    a cross (bad) or nothing (plain)."""
    scale = 3  # drawn large, so it stays crisp on high-density screens
    pixmap = QPixmap(size * scale, size * scale)
    pixmap.fill(QColor(0, 0, 0, 0))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.scale(size * scale / 32, size * scale / 32)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(TONE_COLOURS.get(tone) or "#7d838a"))
    painter.drawEllipse(QRectF(1, 1, 30, 30))
    pen = QPen(QColor("#16181b"), 3.6)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    if tone == GOOD:
        tick = QPainterPath(QPointF(9, 16.5))
        tick.lineTo(QPointF(14, 21.5))
        tick.lineTo(QPointF(23, 11))
        painter.drawPath(tick)
    elif tone == WARN:
        painter.drawLine(QPointF(16, 8.5), QPointF(16, 18))
        painter.drawPoint(QPointF(16, 23.5))
    elif tone == BAD:
        painter.drawLine(QPointF(11, 11), QPointF(21, 21))
        painter.drawLine(QPointF(21, 11), QPointF(11, 21))
    painter.end()
    pixmap.setDevicePixelRatio(scale)
    return pixmap
