"""Confinement: what stands between student code and everything that is not its own.

``staging`` copies a submission into a worker's folder without following links;
``namespaces`` builds the worker's private view of the machine (processes, files,
network) in the forked child before any student code runs; ``limits`` caps the
worker and all its descendants together.
"""
