"""Helpers shared by every app: no app of the project is imported here."""
