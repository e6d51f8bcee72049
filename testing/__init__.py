"""Pytest fixtures shared by every app's tests (registered in conftest.py)."""
