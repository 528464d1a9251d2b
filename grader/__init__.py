"""propgrade: property-based grading for the multi-layer networks lesson."""

__version__ = "0.1.0"
