"""Calibration texts for int8 weight quantization (GPTQ). Kept apart from parity_texts on purpose:
the gate must measure the quantized model on texts it was not tuned on. The texts are data, in
export/texts/calibration.json."""
from __future__ import annotations

from ..texts import load

CALIBRATION_TEXTS: list[str] = load("calibration")["CALIBRATION_TEXTS"]
