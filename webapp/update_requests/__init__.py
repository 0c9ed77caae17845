"""Customer-info update requests: dealership staff ask, the admin team (Reviewers) decide."""

from webapp.update_requests.routes import bp

__all__ = ["bp"]
