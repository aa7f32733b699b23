"""The Run panel's view-models and job values stay plain Python: importable with no Qt loaded."""

from __future__ import annotations

import subprocess
import sys

MODULES = ("avr_studio.models.run_setup", "avr_studio.models.annotations", "avr_studio.models.error_totals",
           "avr_studio.models.failures", "avr_studio.models.timestamps", "avr_studio.workers.infer_job",
           "avr_studio.workers.spec", "avr_studio.workers.tail", "avr_studio.workers.progress",
           "engine.media.spectrogram")


def test_models_and_job_values_import_no_qt():
    code = (f"import sys; import {', '.join(MODULES)}; "
            "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph', 'shiboken', 'torch'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
