"""Model backends: item + protocol + reasoning style -> streamed raw text. See base.py."""
