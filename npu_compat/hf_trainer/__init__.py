"""Rule pack for Hugging Face ``transformers``' Trainer settings written for a GPU (``rule_pack.py``)."""
