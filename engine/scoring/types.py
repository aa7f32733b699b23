"""Scoring value types; they live in `engine.results` so parsing can use them without cycles."""

from engine.results import *  # noqa: F403
from engine.results import __all__  # noqa: F401
