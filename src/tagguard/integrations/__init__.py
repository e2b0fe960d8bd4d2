"""Glue for the places tagguard runs in: the GitHub Action."""
