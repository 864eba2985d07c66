"""Job progress."""

from __future__ import annotations

from starlette.routing import Route

from streamsvc.http.endpoint import Access, Call, endpoint
from streamsvc.jobs.service import JobPublic, get_job, public


@endpoint(summary="A job's status and progress (done/total)", tags=("jobs",),
          access=Access.staff, response=JobPublic, errors=(404,))  # fmt: skip
def read_job(call: Call) -> JobPublic:
    return public(get_job(call.session, call.venue_id, call.path("job_id")))


routes = [Route("/v1/jobs/{job_id}", read_job, methods=["GET"])]
