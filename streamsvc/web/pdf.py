"""Documents as PDF: the HTML a document template renders, laid out by WeasyPrint.

Statements, receipts and payout advices are one template each (templates/documents/),
shown as a page and downloaded as PDF from the same HTML, so the two never disagree.
WeasyPrint needs Pango and fonts from the system (scripts/install-document-stack): the
document templates name fonts that cover names beyond Latin-1
(`font-family: "DejaVu Sans", "Noto Sans", sans-serif`).
Where Pango is missing the import fails with OSError; that is a 503 with a reason, not
a 500, and the HTML document stays available.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from streamsvc.errors import DependencyUnavailable

PDF_MEDIA_TYPE = "application/pdf"


class PdfUnavailable(DependencyUnavailable):
    code = "pdf_unavailable"


@cache
def _weasyprint() -> Any:
    try:
        import weasyprint  # loads Pango: only when a PDF is asked for
    except OSError as exc:  # the Python package is there, the system libraries are not
        raise PdfUnavailable(
            "PDF documents are unavailable on this server (Pango is not installed: "
            "scripts/install-document-stack); the HTML version is."
        ) from exc
    return weasyprint


def render_pdf(html: str) -> bytes:
    """The PDF of a rendered document. `html` is self-contained: its styles inline in a
    <style> element, no external resources (nothing is fetched while rendering)."""
    weasyprint = _weasyprint()
    # A document naming an external resource (an image URL in a venue's data) must not
    # make the server fetch it: no protocol is allowed, so the resource is left out.
    fetcher = weasyprint.URLFetcher(allowed_protocols=(), fail_on_errors=False)
    document = weasyprint.HTML(string=html, url_fetcher=fetcher)
    pdf: bytes = document.write_pdf()
    return pdf
