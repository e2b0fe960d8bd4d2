"""The HCL language: parse (tree-sitter), compile, evaluate, the function table and values.

Knows nothing of Terraform resources, rules or pricing, and imports nothing from the rest of
tagguard (the ``hcl`` contract in pyproject.toml, checked by tests/test_layering.py): what it needs
from its caller is passed in (the function table to ``parse``, a scope's ``read_file``)."""
