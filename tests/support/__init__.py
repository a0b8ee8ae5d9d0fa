"""Helpers shared by the test files (importable because pyproject puts tests/ on the path)."""
