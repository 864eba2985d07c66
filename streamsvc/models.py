"""Every table of streamsvc, in one metadata, for Alembic and the schema tests.

Each domain's models module is imported here so that its tables register.
"""

from sqlmodel import SQLModel

metadata = SQLModel.metadata
