"""The parity gate: its metrics against the reference (parity) and its texts, loaded from export/texts/
(parity_texts, heldout_texts)."""
