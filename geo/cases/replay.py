"""Case actions sent twice move the case once: an action (a transition, a note, a request)
sent with an `Idempotency-Key` stores its first answer; the same key from the same caller
returns that answer again, changing nothing. An action may also say the state it expects
(`expect`): the field app's queue sends what was decided offline, and a case that moved on
meanwhile is a conflict (409) the worker is shown, not a silent second move.

    >>> answer, replayed = once(conn, worker, "I0000025001", "transitions",
    ...     {"to": "in_progress"}, "k-123", "dispatched", lambda: do_it())   # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.roles import Principal
from geo.cases import flow as caseflow
from geo.core.errors import Conflict, InvalidInput
from geo.core.terms import label

_KEY = re.compile(r"^[\x21-\x7e]{1,64}$")


def _json(value):
    """Times as the API writes them everywhere else (pydantic: UTC as `Z`), so a replayed or
    first answer reads the same as a GET of the case."""
    if isinstance(value, datetime | date):
        text_ = value.isoformat()
        return text_[:-6] + "Z" if text_.endswith("+00:00") else text_
    raise TypeError(f"{type(value).__name__} is not JSON")


def check_expected(conn: Connection, principal: Principal, incident_id: str, expect: str) -> None:
    """Conflict (409) unless the case is in state `expect` now (locks the case)."""
    case = caseflow._load_for_change(conn, principal, incident_id)
    if case["status"] != expect:
        raise Conflict(
            f"incident {incident_id} is {case['status']} ({label(case['status'])}) now, not "
            f"{expect} ({label(expect)}) as when this was decided; look at the case again",
            current_state=case["status"],
            expected_state=expect,
        )


def once(
    conn: Connection,
    principal: Principal,
    incident_id: str,
    action: str,
    request: dict,
    key: str | None,
    expect: str | None,
    act: Callable[[], dict],
) -> tuple[dict, bool]:
    """Run `act` (which makes the change and returns the answer) unless `key` was used by
    this caller before: then (the first answer, True). InvalidInput when the key was used
    for a different action. `expect`: the state the case must be in (else Conflict)."""
    if key is not None and not _KEY.match(key):
        raise InvalidInput(
            "Idempotency-Key must be 1 to 64 visible ASCII characters (e.g. a UUID)",
            field="Idempotency-Key",
        )
    stored_key = f"{principal.id}:{key}" if key else None
    asked = json.loads(
        json.dumps({"incident": incident_id, "action": action, **request}, default=_json)
    )
    if stored_key:
        # two copies of one queued action arriving together: the second waits for the first
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": stored_key})
        earlier = conn.execute(
            text("SELECT request, answer FROM action_replays WHERE key = :k"), {"k": stored_key}
        ).first()
        if earlier is not None:
            if earlier.request != asked:
                raise InvalidInput(
                    "this Idempotency-Key was already used for a different action; use a new "
                    "key for a new action",
                    field="Idempotency-Key",
                )
            return earlier.answer, True
    if expect:
        check_expected(conn, principal, incident_id, expect)
    answer = json.loads(json.dumps(act(), default=_json))
    if stored_key:
        conn.execute(
            text(
                "INSERT INTO action_replays (key, incident_id, request, answer) "
                "VALUES (:k, :id, CAST(:req AS jsonb), CAST(:ans AS jsonb))"
            ),
            {
                "k": stored_key,
                "id": incident_id,
                "req": json.dumps(asked, ensure_ascii=False),
                "ans": json.dumps(answer, ensure_ascii=False),
            },
        )
    return answer, False
