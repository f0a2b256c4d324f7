"""The rename demo after a refactor: its task and its form each moved to a module of their own."""
