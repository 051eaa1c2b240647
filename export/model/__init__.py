"""The model stage: a checkpoint read as PyLate saves it (checkpoint, source, synthetic), the hand-written
export encoder (backbone, encoder) and the PyTorch reference it is checked against (reference)."""
