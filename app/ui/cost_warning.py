"""Before a job starts: ask the designer when its size is clearly out of reach for the device
(the estimate is engine.job_cost's); they may go on anyway."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QMessageBox, QWidget

from engine.devices import DevicePolicy
from engine.job_cost import cost_warning, job_size

ADVICE = "A smaller size, enlarged afterwards, is much faster."


def confirm_cost(parent: QWidget, params: Any, policy: DevicePolicy | None) -> bool:
    """True when the job looks feasible or the designer chose to go on. Until the engine
    has chosen its device (`policy` None) the estimate is the CPU's, the slowest."""
    size = job_size(params)
    if size is None:
        return True
    device, dtype = (policy.device, policy.dtype) if policy else ("cpu", "float32")
    problem = cost_warning(size, device, dtype)
    if not problem:
        return True
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "This size is out of reach",
        problem,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        parent,
    )
    box.setInformativeText(f"{ADVICE} Generate anyway?")
    box.button(QMessageBox.StandardButton.Yes).setText("Generate anyway")
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    return box.exec() == QMessageBox.StandardButton.Yes
