"""Every table of streamsvc, in one metadata, for Alembic and the schema tests.

Each domain's models module is imported here so that its tables register.
"""

from sqlmodel import SQLModel

from streamsvc import idempotency  # noqa: F401
from streamsvc.audit import models as audit  # noqa: F401
from streamsvc.catalog import (
    coproducers,  # noqa: F401
    listing_pushes,  # noqa: F401
)
from streamsvc.catalog import models as catalog  # noqa: F401
from streamsvc.checkin import models as checkin  # noqa: F401
from streamsvc.finance import models as finance  # noqa: F401
from streamsvc.jobs import models as jobs  # noqa: F401
from streamsvc.ledger import models as ledger  # noqa: F401
from streamsvc.me import models as me  # noqa: F401
from streamsvc.orders import models as orders  # noqa: F401
from streamsvc.outbox import models as outbox  # noqa: F401
from streamsvc.passes import models as passes  # noqa: F401
from streamsvc.payments import models as payments  # noqa: F401
from streamsvc.payouts import models as payouts  # noqa: F401
from streamsvc.recordings import access as recording_access  # noqa: F401
from streamsvc.recordings import models as recordings  # noqa: F401
from streamsvc.staff import models as staff  # noqa: F401
from streamsvc.venues import models as venues  # noqa: F401
from streamsvc.viewing import models as viewing  # noqa: F401

metadata = SQLModel.metadata
