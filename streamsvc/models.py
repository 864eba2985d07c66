"""Every table of streamsvc, in one metadata, for Alembic and the schema tests.

Each domain's models module is imported here so that its tables register.
"""

from sqlmodel import SQLModel

from streamsvc.catalog import models as catalog  # noqa: F401
from streamsvc.venues import models as venues  # noqa: F401

metadata = SQLModel.metadata
