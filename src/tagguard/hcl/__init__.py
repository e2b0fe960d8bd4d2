"""The HCL language: parse (tree-sitter), compile, evaluate, the function table and values.

Knows nothing of Terraform resources, rules or pricing."""
