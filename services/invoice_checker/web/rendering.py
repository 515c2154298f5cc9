"""Templates, the formats every page shares (euros, hours, dates), and rendering a page."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.responses import RedirectResponse, Response

from invoice_checker.domain.permissions import Permission, Principal
from invoice_checker.web.security import csrf_token

HERE = Path(__file__).parent


def euros(value: float | None, currency: str = "EUR") -> str:
    """Money with two decimals and thousands separated by a thin space: `12 345.60 €`."""
    if value is None:
        return "–"
    sign = "€" if currency == "EUR" else currency
    return f"{value:,.2f}".replace(",", "\u202f") + f"\u00a0{sign}"


def hours(value: float | None) -> str:
    return "–" if value is None else f"{value:,.2f}".replace(",", "\u202f")


def day(value: date | datetime | None) -> str:
    """Dates as YYYY-MM-DD; times as YYYY-MM-DD HH:MM (UTC as stored)."""
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def query(request: Request, **changes: Any) -> str:
    """This page's query string with some parameters changed (None drops one); paging resets
    unless `page` is among the changes."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    if "page" not in changes:
        params = [(k, v) for k, v in params if k != "page"]
    for name, value in changes.items():
        if value is None:
            continue
        values = value if isinstance(value, list | tuple) else [value]
        params.extend((name, str(v)) for v in values)
    return "?" + urlencode(params) if params else "?"


def options(choices: Iterable[tuple[object, str]], chosen: str) -> Markup:
    """`<option>`s of a long select, built in one pass (hundreds of clients would cost the
    template several milliseconds)."""
    # Every value and label is escaped here, so the joined text is safe markup.
    return Markup(  # noqa: S704  # nosec B704
        "".join(
            f'<option value="{escape(value)}"{" selected" if str(value) == chosen else ""}>'
            f"{escape(label)}</option>"
            for value, label in choices
        )
    )


def sort_link(request: Request, current: str, column: str) -> dict[str, str]:
    """A sortable header: the link toggles the direction; `aria` says the current one."""
    ascending = current == column
    descending = current == f"-{column}"
    target = f"-{column}" if ascending else column
    aria = "ascending" if ascending else "descending" if descending else "none"
    arrow = " ▲" if ascending else " ▼" if descending else ""
    return {"href": query(request, sort=target), "aria": aria, "arrow": arrow}


def build_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=HERE / "templates")
    env = templates.env
    env.filters.update(euros=euros, hours=hours, day=day, percent=percent)
    env.globals.update(query=query, sort_link=sort_link, options=options, Permission=Permission)
    env.trim_blocks = True
    env.lstrip_blocks = True
    return templates


def templates_of(request: Request) -> Jinja2Templates:
    """The app's templates, made on first use (never at import)."""
    found: Jinja2Templates | None = getattr(request.app.state, "templates", None)
    if found is None:
        found = request.app.state.templates = build_templates()
    return found


def render(
    request: Request,
    template: str,
    principal: Principal | None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    return templates_of(request).TemplateResponse(
        request,
        template,
        {
            "principal": principal,
            "csrf": csrf_token(request),
            "can": (lambda p: principal is not None and principal.can(p)),
            **context,
        },
        status_code=status_code,
    )


def page_count(total: int, size: int) -> int:
    """How many pages `total` items fill (at least one, for "page 1 of 1")."""
    return max(1, -(-total // size))


def step_month(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def done_redirect(path: str, done: str) -> Response:
    """After a form: back to the page (303), which says `done` in its status line."""
    return RedirectResponse(f"{path}?{urlencode({'done': done})}", status_code=303)
