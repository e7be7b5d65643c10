"""The first-run choice of the tray app: look like yourself (a cloak, with what it does not hide)
or anonymise. Shown while no setting has been saved; the engine runs the default (anonymise)
meanwhile, and the choice is saved like any other setting."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from vcam.engine.filters import FILTERS

CHOICES = ("anonymise", "adaptive")


class FirstRunChoice(QWidget):
    """Two buttons, one per ``CHOICES`` filter, each with its plain-words protection; ``on_pick``
    gets the chosen filter's name and the window closes."""

    def __init__(self, on_pick: Callable[[str], None]) -> None:
        super().__init__()
        self.setWindowTitle("deid-vcam: how should face recognition see you?")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Choose how you appear in video calls.</b> You can change it later in the Filter menu."))
        self.buttons: dict[str, QPushButton] = {}
        for name in CHOICES:
            button = self.buttons[name] = QPushButton(FILTERS[name].label)
            button.clicked.connect(lambda _=False, n=name: self._pick(on_pick, n))
            words = QLabel(f"<small>{FILTERS[name].protects}</small>")
            words.setWordWrap(True)
            layout.addWidget(button)
            layout.addWidget(words)

    def _pick(self, on_pick: Callable[[str], None], name: str) -> None:
        on_pick(name)
        self.close()
