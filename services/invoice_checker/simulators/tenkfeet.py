"""A local stand-in for the 10000ft API, for tests, `make run`, the demo and the benchmarks.

It serves `/api/v1/users`, `/projects` (phases with `with_phases=true`, tags with `fields=tags`),
`/projects/<id>`, `/leave_types`, `/holidays` and `/time_entries` (approvals with
`fields=approvals`), and takes `POST /api/v1/approvals` (submitting entries moves them to pending
approval; an entry whose `updated_at` is stale, or that is unknown, gets no approval), in the
real envelope: `{"data": [...], "paging": {"page", "per_page",
"previous", "self", "next"}}`, `next` being a path relative to the host. The `auth` header (or
query parameter) must carry the token when one is set.

Data comes from a seeded generator (sizes as options) and is made lazily, one day at a time, so
a million entries cost nothing until asked for; encoded days are cached. Tests may load exact
data instead. Between syncs the data can change through `POST /_admin/days/<date>` and faults can
be injected through `POST /_admin/faults` (429 with X-RateLimit-Reset, 5xx, slow answers,
malformed JSON), both also available as Python methods.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Record = dict[str, Any]

LEAVE_TYPES = ("Annual holiday", "Sick leave", "Unpaid leave", "Flex time Leave")
FIRST_NAMES = ("Aino", "Eino", "Helmi", "Ilmari", "Kerttu", "Lauri", "Mikko", "Siiri", "Toivo")
LAST_NAMES = ("Aalto", "Heikkinen", "Koskinen", "Laine", "Nieminen", "Virtanen", "Mäkinen")
CLIENTS = ("ACME Oy", "Globex", "Initech", "Umbrella", None)
PHASES = ("Development", "Design", "Non-billable onboarding", "Overtime work", "Maintenance")
TASKS = ("Coding", "Meetings", "Design", "Testing", None, "No category")
RATES = (0.0, 40.0, 90.0, 100.0, 120.0, 150.0, 180.0)
STAMP = "2018-01-01T08:00:00Z"


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


@dataclass
class Faults:
    """Counts of requests still to be spoiled, consumed in this order."""

    rate_limited: int = 0
    server_errors: int = 0
    malformed: int = 0
    slow: int = 0
    slow_seconds: float = 0.0
    reset_after_seconds: float = 1.0


@dataclass
class TenkfeetWorld:
    """The simulated account. Days in `entries` override the generator for those days."""

    seed: int = 1
    user_count: int = 20
    project_count: int = 10
    days: int = 0
    entries_per_day: int = 0
    start: date = date(2018, 1, 1)
    token: str = ""
    users: list[Record] = field(default_factory=list)
    projects: list[Record] = field(default_factory=list)  # parents and phases
    leave_types: list[Record] = field(default_factory=list)
    holidays: list[Record] = field(default_factory=list)
    entries: dict[date, list[Record]] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    requests: int = 0
    next_approval_id: int = 90_000_001
    _encoded: dict[date, _EncodedDay] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not (self.users or self.projects or self.leave_types):
            self._generate_directory()

    # --- the generator ---------------------------------------------------------------------

    def _generate_directory(self) -> None:
        rng = random.Random(self.seed)  # nosec B311 # deterministic test data
        for number in range(1, self.user_count + 1):
            first, last = rng.choice(FIRST_NAMES), f"{rng.choice(LAST_NAMES)}{number}"
            self.users.append(_user(number, first, last, uuid.UUID(int=rng.getrandbits(128))))
        users = self.users
        for index in range(self.project_count):
            project_id = 1000 + index * 10
            admins = rng.sample(users, k=min(2, len(users)))
            parent = _project(
                project_id,
                f"Project {index + 1}",
                rng.choice(CLIENTS),
                uuid.UUID(int=rng.getrandbits(128)),
                tags=[f"{u['first_name']} {u['last_name']}" for u in admins],
            )
            self.projects.append(parent)
            for offset, phase in enumerate(rng.sample(PHASES, k=rng.randint(0, 3)), start=1):
                self.projects.append(
                    _phase(parent, project_id + offset, phase, uuid.UUID(int=rng.getrandbits(128)))
                )
        self.leave_types = [
            {"id": 9001 + i, "name": name, "guid": str(uuid.UUID(int=i + 1)), "deleted_at": None}
            for i, name in enumerate(LEAVE_TYPES)
        ]
        self.holidays = [
            {"id": i + 1, "date": day, "name": name, "created_at": STAMP, "updated_at": STAMP}
            for i, (day, name) in enumerate(
                [("2018-01-01", "New Year's Day"), ("2018-01-06", "Epiphany")]
            )
        ]

    def generated_days(self) -> Iterator[date]:
        for offset in range(self.days):
            yield self.start + timedelta(days=offset)

    def _generate_day(self, day: date) -> list[Record]:
        offset = (day - self.start).days
        if not 0 <= offset < self.days or not self.entries_per_day:
            return []
        rng = random.Random(self.seed * 1_000_003 + offset)  # nosec B311 # test data
        assignables = [p["id"] for p in self.projects]
        leave_ids = [t["id"] for t in self.leave_types]
        user_ids = [u["id"] for u in self.users]
        first_id = offset * self.entries_per_day + 1
        stamp = f"{day.isoformat()}T16:00:00Z"
        return [
            _entry(
                first_id + n,
                day,
                rng.choice(user_ids),
                rng.choice(leave_ids) if rng.random() < 0.08 else rng.choice(assignables),
                rng.random() < 0.08,
                rng,
                stamp,
            )
            for n in range(self.entries_per_day)
        ]

    # --- reading and changing days ---------------------------------------------------------

    def day_entries(self, day: date) -> list[Record]:
        if day not in self.entries:
            self.entries[day] = self._generate_day(day)
        return self.entries[day]

    def _day_encoded(self, day: date) -> _EncodedDay:
        """The day's entries as JSON, cached: serving a day again costs a slice and a join."""
        cached = self._encoded.get(day)
        if cached is None:
            generated = day not in self.entries
            cached = _EncodedDay.of(self.day_entries(day))
            if generated:
                del self.entries[day]  # keep only the bytes of untouched generated days
            self._encoded[day] = cached
        return cached

    def change_day(self, day: date, action: str, payload: Record) -> int:
        """Mutate a day: `empty`, `delete` (ids), `update` (id, changes) or `add` (entries).
        Returns how many entries the day has afterwards."""
        entries = [dict(entry) for entry in self.day_entries(day)]
        if action == "empty":
            entries = []
        elif action == "delete":
            gone = set(payload.get("ids", []))
            entries = [entry for entry in entries if entry["id"] not in gone]
        elif action == "update":
            for entry in entries:
                if entry["id"] == payload["id"]:
                    entry.update(payload.get("changes", {}))
        elif action == "add":
            entries.extend(payload.get("entries", []))
        else:
            raise ValueError(f"unknown action {action!r}")
        self.entries[day] = entries
        self._encoded.pop(day, None)
        return len(entries)

    def load(self, data: Record) -> None:
        """Replace the account with exact data (users, projects, leave_types, holidays,
        time_entries); the generator is switched off."""
        self.days = 0
        self.users = list(data.get("users", []))
        self.projects = list(data.get("projects", []))
        self.leave_types = list(data.get("leave_types", []))
        self.holidays = list(data.get("holidays", []))
        self.entries.clear()
        self._encoded.clear()
        for entry in data.get("time_entries", []):
            self.entries.setdefault(date.fromisoformat(entry["date"]), []).append(entry)

    def find_entry(self, entry_id: int) -> tuple[date, Record] | None:
        """The day and the entry with this id: loaded or changed days first, then the one
        generated day that can hold it (generated ids are numbered day by day)."""
        for day, entries in self.entries.items():
            for entry in entries:
                if entry.get("id") == entry_id:
                    return day, entry
        if self.entries_per_day and entry_id > 0:
            day = self.start + timedelta(days=(entry_id - 1) // self.entries_per_day)
            if day not in self.entries:
                for entry in self.day_entries(day):
                    if entry["id"] == entry_id:
                        return day, entry
        return None

    def submit(self, approvables: list[Record], now: datetime) -> list[Record]:
        """Submit time entries for approval, as 10000ft does for an API user: an entry gets a
        pending approval only when its `updated_at` matches; one already submitted keeps the
        approval it has. Returns the approvals of the accepted entries."""
        stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        approvals: list[Record] = []
        for approvable in approvables:
            entry_id = approvable.get("id")
            is_entry = approvable.get("type") == "TimeEntry" and isinstance(entry_id, int)
            found = self.find_entry(entry_id) if is_entry else None  # type: ignore[arg-type]
            if found is None or found[1].get("updated_at") != approvable.get("updated_at"):
                continue
            day, entry = found
            existing = (entry.get("approvals") or {}).get("data") or []
            if existing:
                approvals.append(existing[0])
                continue
            approval = {
                "id": self.next_approval_id,
                "status": "pending",
                "approvable_id": entry["id"],
                "approvable_type": "TimeEntry",
                "submitted_by": entry["user_id"],
                "submitted_at": stamp,
                "approved_by": None,
                "approved_at": None,
                "created_at": stamp,
                "updated_at": stamp,
            }
            self.next_approval_id += 1
            self.change_day(
                day,
                "update",
                {"id": entry["id"], "changes": {"approvals": {"data": [approval]}}},
            )
            approvals.append(approval)
        return approvals

    def entry_count(self) -> int:
        generated = sum(1 for day in self.generated_days() if day not in self.entries)
        return generated * self.entries_per_day + sum(len(e) for e in self.entries.values())

    # --- serving ---------------------------------------------------------------------------

    def time_entries_slice(
        self, start: date, end: date, offset: int, limit: int
    ) -> tuple[list[bytes], int]:
        """JSON pieces holding entries [offset, offset+limit) of start..end in date order (join
        them with commas), and the total number of entries."""
        pieces: list[bytes] = []
        taken = total = 0
        day = start
        while day <= end:
            encoded = self._day_encoded(day)
            count = len(encoded)
            if taken < limit and offset < total + count:
                first = max(offset - total, 0)
                last = min(first + limit - taken, count)
                pieces.append(encoded.entries(first, last))
                taken += last - first
            total += count
            day += timedelta(days=1)
        return pieces, total


@dataclass(frozen=True)
class _EncodedDay:
    """One day's entries JSON-encoded into one buffer (comma-separated), with each entry's start.
    One object per day instead of one per entry keeps a million entries compact in memory."""

    data: bytes
    starts: array[int]

    @classmethod
    def of(cls, entries: list[Record]) -> _EncodedDay:
        encoded = [orjson.dumps(entry) for entry in entries]
        starts = array("q")
        position = 0
        for item in encoded:
            starts.append(position)
            position += len(item) + 1
        starts.append(position)  # where an entry after the last one would start
        return cls(b",".join(encoded), starts)

    def __len__(self) -> int:
        return len(self.starts) - 1

    def entries(self, first: int, last: int) -> bytes:
        """Entries first..last-1 as comma-separated JSON."""
        return self.data[self.starts[first] : self.starts[last] - 1]


def _user(number: int, first: str, last: str, guid: uuid.UUID) -> Record:
    return {
        "id": number,
        "guid": str(guid),
        "first_name": first,
        "last_name": last,
        "display_name": f"{first} {last}",
        "email": f"{first}.{last}@example.com",
        "archived": False,
        "archived_at": None,
        "billable": True,
        "billability_target": 100,
        "billrate": -1,
        "hire_date": "2017-01-01",
        "termination_date": None,
        "mobile_phone": None,
        "invitation_pending": False,
        "role": "Senior",
        "discipline": "Development",
        "type": "User",
        "created_at": STAMP,
        "updated_at": STAMP,
        "deleted": False,
        "thumbnail": None,
    }


def _project(
    project_id: int, name: str, client: str | None, guid: uuid.UUID, tags: list[str]
) -> Record:
    return {
        "id": project_id,
        "guid": str(guid),
        "name": name,
        "client": client,
        "parent_id": None,
        "phase_name": None,
        "project_state": "Confirmed",
        "project_code": "",
        "archived": False,
        "archived_at": None,
        "created_at": STAMP,
        "updated_at": STAMP,
        "description": None,
        "starts_at": "2017-06-01",
        "ends_at": None,
        "thumbnail": None,
        "type": "Project",
        "tags": {"data": [{"id": i + 1, "value": tag} for i, tag in enumerate(tags)]},
    }


def _phase(parent: Record, phase_id: int, phase_name: str, guid: uuid.UUID) -> Record:
    return {
        **parent,
        "id": phase_id,
        "guid": str(guid),
        "parent_id": parent["id"],
        "phase_name": phase_name,
        "project_code": None,
        "tags": {"data": []},
    }


def _entry(
    entry_id: int,
    day: date,
    user_id: int,
    assignable_id: int,
    approved: bool,
    rng: random.Random,
    stamp: str,
) -> Record:
    is_leave = assignable_id >= 9001
    approval_state = rng.random()
    approvals = []
    if approval_state > 0.3:
        approvals.append(
            {
                "id": entry_id + 5_000_000,
                "status": "approved" if approval_state > 0.6 else "pending",
                "approvable_id": entry_id,
                "approvable_type": "TimeEntry",
                "submitted_by": user_id,
                "submitted_at": stamp,
                "approved_by": 1 if approval_state > 0.6 else None,
                "approved_at": stamp if approval_state > 0.6 else None,
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
    return {
        "id": entry_id,
        "assignable_id": assignable_id,
        "assignable_type": "LeaveType" if is_leave else "Project",
        "user_id": user_id,
        "bill_rate": rng.choice(RATES),
        "bill_rate_id": None,
        "date": day.isoformat(),
        "hours": rng.choice((0.5, 1.0, 2.0, 3.5, 4.0, 7.5)),
        "scheduled_hours": None,
        "notes": rng.choice(("Feature work", "", None, "Review")),
        "task": rng.choice(TASKS),
        "is_suggestion": False,
        "created_at": stamp,
        "updated_at": stamp,
        "approvals": {"data": approvals},
    }


# --- the HTTP app --------------------------------------------------------------------------------


def _page_params(request: Request, default_per_page: int = 20) -> tuple[int, int]:
    try:
        page = max(int(request.query_params.get("page", "1")), 1)
        per_page = max(int(request.query_params.get("per_page", str(default_per_page))), 1)
    except ValueError:
        return 1, default_per_page
    return page, per_page


def _paging(request: Request, page: int, per_page: int, total: int) -> Record:
    def link(number: int) -> str:
        query = dict(request.query_params)
        query.update(page=str(number), per_page=str(per_page))
        query.pop("auth", None)  # never echo the token into paths
        return f"{request.url.path}?{urlencode(query)}"

    last = max((total + per_page - 1) // per_page, 1)
    return {
        "page": page,
        "per_page": per_page,
        "previous": link(page - 1) if page > 1 else None,
        "self": link(page),
        "next": link(page + 1) if page < last else None,
    }


def _collection(request: Request, items: list[Record]) -> Response:
    page, per_page = _page_params(request)
    chunk = items[(page - 1) * per_page : page * per_page]
    return _json({"data": chunk, "paging": _paging(request, page, per_page, len(items))})


def _nested(items: list[Record], per_page: int) -> Record:
    return {
        "data": items,
        "paging": {"page": 1, "per_page": per_page, "previous": None, "self": None, "next": None},
    }


def create_app(world: TenkfeetWorld) -> Starlette:
    """The simulator's ASGI app over `world` (which tests may keep changing)."""

    def fields(request: Request) -> set[str]:
        return set(request.query_params.get("fields", "").split(","))

    async def users(request: Request) -> Response:
        archived = request.query_params.get("with_archived") == "true"
        return _collection(request, [u for u in world.users if archived or not u["archived"]])

    def project_view(project: Record, with_tags: bool, per_page: int) -> Record:
        view = {key: value for key, value in project.items() if key != "tags"}
        if with_tags:
            view["tags"] = _nested(project.get("tags", {}).get("data", []), per_page)
        return view

    async def projects(request: Request) -> Response:
        params = request.query_params
        archived = params.get("with_archived") == "true"
        phases = params.get("with_phases") == "true"
        _, per_page = _page_params(request)
        items = [
            project_view(p, "tags" in fields(request), per_page)
            for p in world.projects
            if (archived or not p.get("archived")) and (phases or p.get("parent_id") is None)
        ]
        return _collection(request, items)

    async def project(request: Request) -> Response:
        wanted = request.path_params["project_id"]
        for item in world.projects:
            if item["id"] == wanted:
                return _json(project_view(item, True, 20))
        return _json({"message": "Not found"}, 404)

    async def leave_types(request: Request) -> Response:
        return _collection(request, world.leave_types)

    async def holidays(request: Request) -> Response:
        return _collection(request, world.holidays)

    async def time_entries(request: Request) -> Response:
        try:
            start = date.fromisoformat(request.query_params["from"])
            end = date.fromisoformat(request.query_params["to"])
        except (KeyError, ValueError):
            return _json({"message": "from and to (YYYY-MM-DD) are required"}, 400)
        page, per_page = _page_params(request)
        pieces, total = world.time_entries_slice(start, end, (page - 1) * per_page, per_page)
        data = b"[" + b",".join(piece for piece in pieces if piece) + b"]"
        if "approvals" not in fields(request):
            plain = orjson.loads(data)
            for entry in plain:
                entry.pop("approvals", None)
            data = orjson.dumps(plain)
        paging = orjson.dumps(_paging(request, page, per_page, total))
        body = b'{"data":' + data + b',"paging":' + paging + b"}"
        return Response(body, media_type="application/json")

    async def approvals(request: Request) -> Response:
        try:
            payload = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _json({"message": "The body is not JSON"}, 400)
        items = payload.get("approvables") if isinstance(payload, dict) else None
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            return _json({"message": "approvables must be an array of objects"}, 400)
        if payload.get("status") != "pending":
            # Only administrators approve; an API user may only submit.
            return _json({"message": "API users can only submit (status pending)"}, 403)
        created = world.submit(items, datetime.now(UTC))
        return _json({"data": created, "paging": _nested(created, len(created) or 20)["paging"]})

    async def change_day(request: Request) -> Response:
        payload = orjson.loads(await request.body())
        day = date.fromisoformat(request.path_params["day"])
        try:
            count = world.change_day(day, payload.get("action", ""), payload)
        except (ValueError, KeyError) as exc:
            return _json({"message": str(exc)}, 400)
        return _json({"date": day.isoformat(), "entries": count})

    async def set_faults(request: Request) -> Response:
        payload = orjson.loads(await request.body())
        world.faults = Faults(**payload)
        return _json({"ok": True})

    async def stats(request: Request) -> Response:
        return _json({"requests": world.requests, "entries": world.entry_count()})

    routes = [
        Route("/api/v1/users", users),
        Route("/api/v1/projects", projects),
        Route("/api/v1/projects/{project_id:int}", project),
        Route("/api/v1/leave_types", leave_types),
        Route("/api/v1/holidays", holidays),
        Route("/api/v1/time_entries", time_entries),
        Route("/api/v1/approvals", approvals, methods=["POST"]),
        Route("/_admin/days/{day}", change_day, methods=["POST"]),
        Route("/_admin/faults", set_faults, methods=["POST"]),
        Route("/_admin/stats", stats),
    ]
    app = Starlette(routes=routes)
    return _GuardedApp(app, world)  # type: ignore[return-value]


class _GuardedApp:
    """Checks the token and spoils requests as `world.faults` says, before the real app."""

    def __init__(self, app: Starlette, world: TenkfeetWorld) -> None:
        self.app = app
        self.world = world

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        world = self.world
        world.requests += 1
        request = Request(scope)
        token = request.headers.get("auth") or request.query_params.get("auth")
        if world.token and token != world.token:
            await _json({"message": "Unauthorized"}, 401)(scope, receive, send)
            return
        faults = world.faults
        if faults.rate_limited:
            faults.rate_limited -= 1
            reset = str(int(time.time() + faults.reset_after_seconds))
            headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0"}
            headers["X-RateLimit-Reset"] = reset
            await _json({"message": "Too many requests"}, 429, headers)(scope, receive, send)
            return
        if faults.server_errors:
            faults.server_errors -= 1
            await _json({"message": "Internal error"}, 503)(scope, receive, send)
            return
        if faults.malformed:
            faults.malformed -= 1
            await Response(b'{"data": [', media_type="application/json")(scope, receive, send)
            return
        if faults.slow:
            faults.slow -= 1
            await asyncio.sleep(faults.slow_seconds)
        await self.app(scope, receive, send)


def fixture_world(data: Record, token: str = "") -> TenkfeetWorld:  # nosec B107 # "" = no token check
    world = TenkfeetWorld(token=token, user_count=0, project_count=0)
    world.load(data)
    return world
