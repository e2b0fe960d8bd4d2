"""Pricing: the shipped GPU rate card (``catalog``), the cost engine (``engine``),
usage files (``usage``) and ``tagguard pricing show`` (``show``).

Nothing is imported here, so ``import tagguard.pricing`` stays cheap.
"""
