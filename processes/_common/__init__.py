"""Helpers shared by the process packages: which repositories may reach git, and writing files
inside a clone without leaving it."""
