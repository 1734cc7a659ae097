"""Every operation of the app's own OpenAPI document, fuzzed by schemathesis as an admin and
as a patrol: no answer is a 5xx, and every answer keeps to the document (declared status,
content type and schema). Generic on purpose: routes added later are fuzzed too.

A bounded number of examples per operation (`EXAMPLES`) keeps the run to a few minutes;
raise it locally with GRIDMAP_FUZZ_EXAMPLES for a deeper search.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from geo.core.settings import get_settings

EXAMPLES = int(os.environ.get("GRIDMAP_FUZZ_EXAMPLES", "8"))
ROLES = ("admin", "patrol")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: tokens of the fuzzing callers, made in the fuzzed database (revoking the template's tokens
#: there, which a generated DELETE /api/tokens/{id} may do, does not touch these)
FUZZ_TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module")
def fuzzed_app(databases, template_db) -> Iterator:
    """The app on a private copy of the seeded database, with its own tokens."""
    from sqlalchemy import create_engine

    from api.main import create_app
    from geo.access.roles import Role, create_token

    name = databases.create(template=template_db)
    url = databases.url(name)
    engine = create_engine(url)
    with engine.begin() as conn:
        for role in ROLES:
            FUZZ_TOKENS[role] = create_token(conn, Role(role), f"fuzz {role}")
    engine.dispose()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRIDMAP_DATABASE_URL", url)
        # a generated map page per example is slow; a small cache keeps the disk clean
        patch.setenv("GRIDMAP_MAP_CACHE_FILES", "20")
        get_settings.cache_clear()
        yield create_app()
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def api_schema(fuzzed_app):
    return schemathesis.openapi.from_asgi(
        "/openapi.json",
        fuzzed_app,
        headers={"Authorization": f"Bearer {FUZZ_TOKENS['admin']}"},
    )


def operations() -> list[tuple[str, str]]:
    """(method, path) of every operation in the app's OpenAPI document."""
    from api.main import create_app

    paths = create_app().openapi()["paths"]
    return [(method.upper(), path) for path, ops in paths.items() for method in ops]


# (schemathesis' own pytest integration does not run on pytest 9: hypothesis drives the
# operation's strategy directly instead)
@pytest.mark.parametrize("method, path", operations(), ids=lambda v: v)
def test_no_operation_answers_a_5xx_or_breaks_its_schema(api_schema, method, path):
    operation = api_schema[path][method]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case):
        for role in ROLES:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {FUZZ_TOKENS[role]}"}, checks=CHECKS
            )

    fuzz()
