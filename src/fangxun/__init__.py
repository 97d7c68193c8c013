"""Fangxun (防汛): urban waterlogging early warning and flood-control command for a district."""

__version__ = "0.1.0"
