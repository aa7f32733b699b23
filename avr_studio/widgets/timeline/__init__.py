"""The timeline: waveform track, GT and run tiers, what-if edit handles (one small module each)."""

from avr_studio.widgets.timeline.widget import Timeline

__all__ = ["Timeline"]
