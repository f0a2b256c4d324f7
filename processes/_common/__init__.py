"""Helpers shared by the process packages: which repositories may reach git."""
