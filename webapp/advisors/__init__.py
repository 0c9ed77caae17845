"""Advisors' DMS employee ids (service managers): appointments are pushed with them."""

from webapp.advisors.routes import bp

__all__ = ["bp"]
