"""The viewing tests' show (a published event with paid tickets) serves these too."""

from tests.viewing.conftest import show

__all__ = ["show"]
