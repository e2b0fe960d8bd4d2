"""tagguard: make AI spend attributable.

Enforces a tag taxonomy on GPU and AI resources before they exist, prices them,
and blocks merges that create untagged or over-budget AI resources.
"""
__version__ = "0.1.0"
