"""People's accounts: login name, Argon2id password, roles, and their personal access tokens.

An admin creates a user and hands over the one-time password printed once; the first
sign-in must replace it. Only an Argon2id hash (argon2-cffi) is stored.

    >>> user_id, otp = create_user(conn, "13800000001", ["grid_worker"], "郑娟桂",
    ...                            worker_id="W001")                    # doctest: +SKIP
    >>> verify_login(conn, "13800000001", otp).must_change_password     # doctest: +SKIP
    True
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.roles import TOKEN_PREFIX, Principal, Role, _worker_scope, hash_token
from geo.core.errors import InvalidInput, NotFound
from geo.core.settings import get_settings

_hasher = PasswordHasher()  # Argon2id, the library's (RFC 9106 low-memory) parameters
#: verified when the login name is unknown, so that both answers take as long
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
LOGIN_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{2,63}$")
#: one-time passwords: no 0/O, 1/l/I, easy to read out on the phone
_OTP_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class User:
    id: int
    login: str
    display_name: str
    roles: list[str]
    worker_id: str | None
    scope_codes: list[str]
    must_change_password: bool
    disabled: bool
    created_at: datetime
    #: the sub-district the account belongs to (0017t)
    subdistrict: str | None = None

    def principal(self, session_id: int | None = None) -> Principal:
        roles = [Role(r) for r in self.roles if r in {x.value for x in Role}]
        return Principal(
            None,
            self.display_name,
            roles[0],
            tuple(self.scope_codes),
            other_roles=tuple(roles[1:]),
            user_id=self.id,
            worker_id=self.worker_id,
            must_change_password=self.must_change_password,
            session_id=session_id,
            subdistrict=self.subdistrict,
        )


_COLUMNS = (
    "id, login, display_name, roles, worker_id, scope_codes, must_change_password, "
    "disabled_at IS NOT NULL AS disabled, created_at, subdistrict"
)


def _user(row) -> User:
    return User(
        row.id,
        row.login,
        row.display_name,
        list(row.roles),
        row.worker_id,
        list(row.scope_codes or []),
        row.must_change_password,
        row.disabled,
        row.created_at,
        row.subdistrict,
    )


def one_time_password() -> str:
    return "".join(secrets.choice(_OTP_ALPHABET) for _ in range(14))


def check_password(password: str, login: str | None = None, field: str = "password") -> None:
    """The policy: at least `password_min_length` characters, not the login name, not one
    repeated character, letters and something else. InvalidInput naming `field` otherwise."""
    minimum = get_settings().password_min_length
    if len(password) < minimum:
        raise InvalidInput(
            f"the password is too short: at least {minimum} characters · 密码至少 {minimum} 位",
            field=field,
        )
    if len(password) > 200:
        raise InvalidInput("the password is longer than 200 characters", field=field)
    if login and login.lower() in password.lower():
        raise InvalidInput(
            "the password may not contain the login name · 密码不能含登录名", field=field
        )
    if len(set(password)) < 4 or password.isalpha() or password.isdigit():
        raise InvalidInput(
            "the password is too simple: mix letters with digits or signs · 密码过于简单",
            field=field,
        )


def _roles(roles: list[str]) -> list[str]:
    if not roles:
        raise InvalidInput("a user needs at least one role", field="roles")
    known = {r.value for r in Role}
    unknown = [r for r in roles if r not in known]
    if unknown:
        raise InvalidInput(
            f"unknown role(s) {', '.join(unknown)}; one of: {', '.join(sorted(known))}",
            field="roles",
        )
    return list(dict.fromkeys(roles))


def _scope(conn: Connection, roles: list[str], grids: list[str], worker_id: str | None):
    codes = list(grids)
    if worker_id:
        try:
            codes += list(_worker_scope(conn, worker_id))
        except InvalidInput as e:
            raise InvalidInput(e.detail, field="worker_id") from None
    if Role.GRID_WORKER.value in roles and not codes:
        raise InvalidInput(
            "a grid worker needs their grids: --worker ID (their worker record) or --grid CODE",
            field="worker_id",
        )
    for code in grids:
        if not conn.execute(
            text("SELECT 1 FROM units WHERE code = :c AND valid_to IS NULL"), {"c": code}
        ).first():
            raise InvalidInput(f"unknown unit code {code!r}", field="grid")
    return list(dict.fromkeys(codes))


def create_user(
    conn: Connection,
    login: str,
    roles: list[str],
    display_name: str,
    worker_id: str | None = None,
    grids: list[str] | None = None,
) -> tuple[int, str]:
    """A new user and their one-time password (returned once, to hand over)."""
    login = login.strip()
    if not LOGIN_PATTERN.match(login):
        raise InvalidInput(
            "a login name is 3-64 letters, digits or . _ @ + - (a mobile number is typical)",
            field="login",
        )
    display_name = display_name.strip()
    if not display_name or len(display_name) > 80:
        raise InvalidInput("a display name is 1-80 characters", field="display_name")
    roles = _roles(roles)
    codes = _scope(conn, roles, grids or [], worker_id)
    if conn.execute(
        text("SELECT 1 FROM users WHERE lower(login) = lower(:l)"), {"l": login}
    ).first():
        raise InvalidInput(f"the login name {login!r} is taken · 登录名已被使用", field="login")
    password = one_time_password()
    user_id = conn.execute(
        text(
            "INSERT INTO users (login, display_name, password_hash, roles, worker_id, "
            "scope_codes, must_change_password) VALUES (:login, :name, :hash, :roles, "
            ":worker, :scope, true) RETURNING id"
        ),
        {
            "login": login,
            "name": display_name,
            "hash": _hasher.hash(password),
            "roles": roles,
            "worker": worker_id,
            "scope": codes,
        },
    ).scalar_one()
    return user_id, password


def set_password(conn: Connection, user_id: int, password: str, must_change: bool) -> None:
    """Store a new password hash (no policy check: callers check or generate)."""
    conn.execute(
        text(
            "UPDATE users SET password_hash = :hash, must_change_password = :must, "
            "password_changed_at = now() WHERE id = :id"
        ),
        {"hash": _hasher.hash(password), "must": must_change, "id": user_id},
    )


def get_user(conn: Connection, user: int | str) -> User:
    """A user by id or login name; NotFound otherwise."""
    where = "id = :u" if isinstance(user, int) else "lower(login) = lower(:u)"
    row = conn.execute(text(f"SELECT {_COLUMNS} FROM users WHERE {where}"), {"u": user}).first()
    if row is None:
        raise NotFound(f"no user {user!r}; `gridmap user list` shows them")
    return _user(row)


def list_users(conn: Connection) -> list[User]:
    return [_user(r) for r in conn.execute(text(f"SELECT {_COLUMNS} FROM users ORDER BY id"))]


def verify_login(conn: Connection, login: str, password: str) -> User | None:
    """The enabled user with this login name and password, or None (same time either way)."""
    row = conn.execute(
        text(
            f"SELECT {_COLUMNS}, password_hash FROM users "
            "WHERE lower(login) = lower(:l) AND disabled_at IS NULL"
        ),
        {"l": login.strip()[:64]},
    ).first()
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        set_password(conn, row.id, password, row.must_change_password)
    return _user(row)


def change_password(conn: Connection, user_id: int, current: str, new: str) -> None:
    """The user's own change: the current password, then a new one meeting the policy."""
    user = get_user(conn, user_id)
    if verify_login(conn, user.login, current) is None:
        raise InvalidInput(
            "the current password is wrong · 当前密码不正确", field="current_password"
        )
    if new == current:
        raise InvalidInput("choose a password different from the current one", field="new_password")
    check_password(new, user.login, field="new_password")
    set_password(conn, user_id, new, must_change=False)


def _end_sessions(conn: Connection, user_id: int) -> None:
    conn.execute(
        text("UPDATE user_sessions SET ended_at = now() WHERE user_id = :u AND ended_at IS NULL"),
        {"u": user_id},
    )


def reset_password(conn: Connection, user: int | str) -> str:
    """A new one-time password (returned once); the user's sessions end at once."""
    found = get_user(conn, user)
    password = one_time_password()
    set_password(conn, found.id, password, must_change=True)
    _end_sessions(conn, found.id)
    return password


def enabled_admins(conn: Connection) -> int:
    """How many enabled users can administer (0: nobody can sign in to create others)."""
    return conn.execute(
        text("SELECT count(*) FROM users WHERE :admin = ANY(roles) AND disabled_at IS NULL"),
        {"admin": Role.ADMIN.value},
    ).scalar_one()


def disable_user(conn: Connection, user: int | str) -> User:
    """Disable a user: their sessions end and their tokens stop working at once. The last
    enabled admin cannot be disabled (InvalidInput)."""
    found = get_user(conn, user)
    if Role.ADMIN.value in found.roles and not found.disabled:
        others = conn.execute(
            text(
                "SELECT count(*) FROM users WHERE :admin = ANY(roles) AND disabled_at IS NULL "
                "AND id <> :id"
            ),
            {"admin": Role.ADMIN.value, "id": found.id},
        ).scalar_one()
        if others == 0:
            raise InvalidInput(
                f"{found.login!r} is the last enabled admin; create another admin first",
                field="login",
            )
    conn.execute(
        text("UPDATE users SET disabled_at = coalesce(disabled_at, now()) WHERE id = :id"),
        {"id": found.id},
    )
    _end_sessions(conn, found.id)
    return get_user(conn, found.id)


# ------------------------------------------------------------- personal access tokens


@dataclass(frozen=True)
class PersonalToken:
    id: int
    name: str
    roles: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked: bool


def create_personal_token(
    conn: Connection, user_id: int, name: str, roles: list[str] | None, days: int
) -> str:
    """A token for the user's programs (shown once): their roles or fewer, for `days` days."""
    user = get_user(conn, user_id)
    name = name.strip()
    if not name or len(name) > 80:
        raise InvalidInput("a token needs a name of 1-80 characters (what uses it)", field="name")
    chosen = _roles(roles or user.roles)
    beyond = [r for r in chosen if r not in user.roles]
    if beyond:
        raise InvalidInput(f"not your role(s): {', '.join(beyond)}", field="roles")
    limit = get_settings().token_max_days
    if not 1 <= days <= limit:
        raise InvalidInput(f"a token lives 1-{limit} days", field="days")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        text(
            "INSERT INTO api_tokens (name, role, roles, token_hash, scope_codes, worker_id, "
            "user_id, expires_at) VALUES (:name, :role, :roles, :hash, :scope, :worker, :user, "
            "now() + make_interval(days => :days))"
        ),
        {
            "name": name,
            "role": chosen[0],
            "roles": chosen,
            "hash": hash_token(token),
            "scope": user.scope_codes,
            "worker": user.worker_id,
            "user": user.id,
            "days": days,
        },
    )
    return token


def list_personal_tokens(conn: Connection, user_id: int) -> list[PersonalToken]:
    rows = conn.execute(
        text(
            "SELECT id, name, roles, created_at, expires_at, last_used_at, "
            "revoked_at IS NOT NULL OR expires_at <= now() AS revoked "
            "FROM api_tokens WHERE user_id = :u ORDER BY id DESC"
        ),
        {"u": user_id},
    )
    return [
        PersonalToken(
            r.id, r.name, list(r.roles), r.created_at, r.expires_at, r.last_used_at, r.revoked
        )
        for r in rows
    ]


def revoke_personal_token(conn: Connection, user_id: int, token_id: int) -> None:
    done = conn.execute(
        text(
            "UPDATE api_tokens SET revoked_at = now() WHERE id = :id AND user_id = :u "
            "AND revoked_at IS NULL"
        ),
        {"id": token_id, "u": user_id},
    )
    if done.rowcount == 0:
        raise NotFound(f"you have no active token with id {token_id}")


def default_token_days() -> int:
    return min(90, get_settings().token_max_days)


def grid_workers(conn: Connection) -> list[dict]:
    """The grid worker records a user can be bound to: id, name, the unit they serve."""
    rows = conn.execute(
        text(
            "SELECT id, name_zh, serves_code FROM resources WHERE kind = 'grid_worker' "
            "AND serves_code IS NOT NULL ORDER BY id"
        )
    ).mappings()
    return [dict(r) for r in rows]
