"""The web pages' rendering: one set of templates, the page's language, its labels.

A page's language is `?lang=zh|en` (then remembered in the `lang` cookie), else the
cookie, else Simplified Chinese. Templates get `t("key", ...)` (`geo.publish.messages`), `lang`,
the signed-in `principal` (or None) and `switch_url`, the same page in the other language.
Jinja2 autoescapes everything they print.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from fastapi import Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from geo.access.roles import Principal
from geo.core.terms import BEIJING
from geo.publish.messages import DEFAULT_LANGUAGE, LANGUAGES, messages_for, translator

LANG_COOKIE = "lang"

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.trim_blocks = templates.env.lstrip_blocks = True


def _number(value: float | int | None, digits: int | None = None) -> str:
    """Thousands separated; `digits` decimals when given; a dash for no value."""
    if value is None:
        return "–"
    if digits is not None:
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _beijing(value: date | datetime | None) -> str:
    """An instant in Beijing time to the minute; a day (already a Beijing day) as it is."""
    if not value:
        return "–"
    if not isinstance(value, datetime):
        return value.isoformat()
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


templates.env.filters["number"] = _number
templates.env.filters["beijing"] = _beijing


def page_language(
    request: Request,
    lang: str | None = Query(
        None, description="page language: `zh` (default) or `en`; remembered in a cookie"
    ),
) -> str:
    """The language of the page: the query parameter, else the cookie, else Chinese."""
    if lang in LANGUAGES:
        return lang
    remembered = request.cookies.get(LANG_COOKIE)
    return remembered if remembered in LANGUAGES else DEFAULT_LANGUAGE


def _switch_url(request: Request, other: str) -> str:
    url = request.url.include_query_params(lang=other)
    return f"{url.path}?{url.query}"


def render(
    request: Request,
    template: str,
    lang: str,
    principal: Principal | None = None,
    status_code: int = 200,
    **context,
) -> HTMLResponse:
    """The page `template` in `lang`; a language chosen by query parameter is remembered."""
    other = next(code for code in LANGUAGES if code != lang)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "t": translator(lang),
            "principal": principal,
            "switch_url": _switch_url(request, other),
            "other_lang": other,
            # the session's CSRF token (a signed-in person's page): the meta tag, the forms
            "csrf_token": getattr(request.state, "csrf_token", ""),
            # the field app's scripts (offline queue, notifications): their labels
            "field_messages": messages_for(lang, "field."),
            **context,
        },
        status_code=status_code,
    )
    if request.query_params.get("lang") == lang and request.cookies.get(LANG_COOKIE) != lang:
        response.set_cookie(
            LANG_COOKIE,
            lang,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


def error_page(request: Request, status: int) -> HTMLResponse:
    """A person's page for 403 (their role may not) and 404 (no such page)."""
    principal = getattr(request.state, "principal", None)
    lang = page_language(request, request.query_params.get("lang"))
    return render(request, "error.html", lang, principal, status_code=status, status=status)
