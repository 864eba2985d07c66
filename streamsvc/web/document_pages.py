"""Serving a rendered document (statement, receipt, payout advice) as a page or a PDF.

The document's HTML is rendered once (web/documents.py) and answered either as it is
or laid out as PDF (web/pdf.py), so the two never disagree. Its style is inline
(templates/documents/_document_style.html); served as HTML, the response's CSP allows
exactly those <style> elements by their SHA-256, nothing else inline. Documents hold a
buyer's or a party's money: never cached, never stored by a shared cache.
"""

from __future__ import annotations

import base64
import hashlib
import re

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from streamsvc.http.security import extend_csp
from streamsvc.web.pdf import PDF_MEDIA_TYPE, render_pdf

_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)
_FILENAME = re.compile(r"^[A-Za-z0-9._-]{1,120}$")
_PRIVATE = {"Cache-Control": "no-store, private", "Vary": "Cookie"}


def html_document(request: Request, html: str) -> HTMLResponse:
    """The document as a page, its inline styles allowed by hash."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(block.encode()).digest()).decode() + "'"
        for block in _STYLE.findall(html)
    ]
    if hashes:
        extend_csp(request, {"style-src": hashes})
    return HTMLResponse(html, headers=_PRIVATE)


async def pdf_document(html: str, filename: str) -> Response:
    """The document as a PDF download named `filename` (letters, digits, `.-_` only).
    Laid out in a worker thread: WeasyPrint takes a while and must not hold the loop."""
    if not _FILENAME.fullmatch(filename):
        raise ValueError(f"not a safe file name: {filename!r}")
    pdf = await to_thread.run_sync(render_pdf, html)
    headers = {**_PRIVATE, "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(pdf, media_type=PDF_MEDIA_TYPE, headers=headers)
