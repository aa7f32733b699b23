"""Packages: engine, training, avr_studio, and resources/ shipped as `avr_resources` (data only)."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["engine*", "training*", "avr_studio*"]) + ["avr_resources"],
    package_dir={"avr_resources": "resources"},
)
