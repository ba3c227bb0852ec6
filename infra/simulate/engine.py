"""Apply synthesized stacks to the in-memory world in Terraform's order, checking every step.

Each resource is applied by a handler (``handlers_*.py``) through an :class:`ApplyContext`: the
context knows who acts (the stack's identity), on which workspace, what the resource may already see
(facts from its ancestors in the dependency graph), and how to resolve names and principals. Handlers
state what Databricks requires and what the step changes; the rules they cite are in ``rules.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from infra.simulate.model import Failure, Result, StackInput
from infra.simulate.world import GROUP, SP, USER, Key, Origin, Securable, Workspace, World
from infra.tfdoc import Resource, is_interpolation, substitute, whole_reference

if TYPE_CHECKING:
    from infra.simulate.scenario import SpecContext

REMOTE_STATE = "data.terraform_remote_state."
CROSS_STACK_PREFIX = "cross-stack-reference-input-"
LEVEL_ORDER = {"USER": 1, "ADMIN": 2}

# Attributes the provider computes from arguments that are known before apply.
COMPUTED: dict[tuple[str, str], Callable[[dict[str, Any]], Any]] = {
    # docs/resources/volume.md: volume_path is /Volumes/<catalog>/<schema>/<name>
    ("databricks_volume", "volume_path"): lambda v: "/Volumes/{}/{}/{}".format(
        v.get("catalog_name"), v.get("schema_name"), v.get("name")
    ),
}

Handler = Callable[["ApplyContext"], None]
RunPhase = Callable[["Simulator", StackInput], int]
"""Runs one stack's jobs on paper after the apply phase; returns the number of job tasks checked."""
HANDLERS: dict[tuple[str, str], Handler] = {}


def handles(mode: str, *types: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for rtype in types:
            HANDLERS[(mode, rtype)] = fn
        return fn

    return register


@dataclass
class Need:
    """An object a resource used that did not exist yet: settled when the stack is done."""

    stack: str
    where: str
    rule: str
    operation: str
    identity: Key
    kind: str
    name: str


@dataclass
class Simulator:
    world: World
    stacks: list[StackInput]
    context: SpecContext | None = None
    """Model specs per environment: without them the run phase checks clusters, not operations."""
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _needs: list[Need] = field(default_factory=list)
    _reported: set[tuple[str, ...]] = field(default_factory=set)
    _job_tasks: int = 0

    @property
    def by_name(self) -> dict[str, StackInput]:
        return {s.name: s for s in self.stacks}

    def run(self, run_phase: RunPhase | None = None) -> Result:
        """Apply every stack, then ``run_phase`` per stack (``infra.simulate.jobs.run_jobs``, wired by
        ``infra.simulate.api``: the run phase reads what the apply phase built, so it depends on this
        module and not the other way round). None: the apply phase only."""
        resources = 0
        for stack in self.stacks:
            resources += self._apply(stack)
        for stack in self.stacks:
            self._job_tasks += run_phase(self, stack) if run_phase is not None else 0
        self.failures.sort(key=lambda f: (self._stack_rank(f.stack), f.where, f.rule, f.operation, f.missing))
        return Result([s.name for s in self.stacks], resources, self._job_tasks, self.failures, self.notes)

    def _stack_rank(self, name: str) -> int:
        names = [s.name for s in self.stacks]
        return names.index(name) if name in names else len(names)

    def _apply(self, stack: StackInput) -> int:
        count = 0
        unmodelled: set[str] = set()
        for res in stack.index.order():
            if res.mode == "provider":
                continue
            count += res.mode == "managed"
            handler = HANDLERS.get((res.mode, res.type))
            if handler is None:
                if res.mode == "managed":
                    unmodelled.add(res.type)
                continue
            handler(ApplyContext(self, stack, res))
        self._settle(stack)
        if unmodelled:
            self.notes.append(
                f"{stack.name}: not modelled (created without checks): {', '.join(sorted(unmodelled))}"
            )
        return count

    def _settle(self, stack: StackInput) -> None:
        """Objects used before they existed: created later in the same stack (no dependency) or never."""
        for need in [n for n in self._needs if n.stack == stack.name]:
            creator = self._creator(need.kind, need.name)
            if creator is not None and creator.stack == stack.name:
                self.fail(
                    "SIM001",
                    stack.name,
                    need.where,
                    need.operation,
                    need.identity,
                    f"{need.kind} {need.name!r} is created by {creator.address}, but nothing orders it first "
                    "(refer to it by reference, not by a literal name)",
                )
            else:
                self.fail(
                    need.rule,
                    stack.name,
                    need.where,
                    need.operation,
                    need.identity,
                    f"no {need.kind} {need.name!r}",
                )
        self._needs = [n for n in self._needs if n.stack != stack.name]

    def _creator(self, kind: str, name: str) -> Origin | None:
        if kind.startswith("principal "):
            principal = self.world.principals.get(Key(kind.removeprefix("principal "), name))
            return principal.origin if principal else None
        if kind.startswith("workspace object "):
            for ws in self.world.workspaces.values():
                obj = ws.obj(kind.removeprefix("workspace object "), name)
                if obj is not None:
                    return obj.origin
            return None
        sec = self.world.securable(kind, name)
        return sec.origin if sec else None

    def fail(
        self, rule: str, stack: str, where: str, operation: str, identity: Key | str, missing: str
    ) -> None:
        key = (rule, stack, where, operation, missing)
        if key in self._reported:
            return
        self._reported.add(key)
        self.failures.append(Failure(rule, stack, where, operation, str(identity), missing))


class ApplyContext:
    """One resource being applied: who acts, where, and what it can see."""

    def __init__(self, sim: Simulator, stack: StackInput, res: Resource) -> None:
        self.sim, self.stack, self.res = sim, stack, res
        self.world = sim.world
        self.identity = stack.identity
        self.origin = Origin(stack.name, res.address)
        self._ancestors = stack.index.ancestors(res.address)
        provider = stack.index.providers.get(res.provider)
        self.provider_values: dict[str, Any] = dict(provider.values) if provider else {}

    # --- failures -------------------------------------------------------------------------------

    def fail(self, rule: str, operation: str, missing: str, identity: Key | str | None = None) -> None:
        self.sim.fail(rule, self.stack.name, self.res.address, operation, identity or self.identity, missing)

    # --- visibility -----------------------------------------------------------------------------

    def sees(self, origin: Origin | None) -> bool:
        return (
            origin is None
            or origin.stack != self.stack.name
            or origin.address == self.res.address
            or origin.address in self._ancestors
        )

    def _unordered(self, origin: Origin | None, what: str, operation: str) -> bool:
        """True (and a SIM001 failure) when ``what`` exists only thanks to a resource not ordered first."""
        if self.sees(origin):
            return False
        assert origin is not None
        self.fail(
            "SIM001",
            operation,
            f"{what} is created by {origin.address}, but nothing orders it first "
            "(refer to it by reference, not by a literal name)",
        )
        return True

    def need(self, rule: str, operation: str, kind: str, name: str) -> None:
        self.sim._needs.append(
            Need(self.stack.name, self.res.address, rule, operation, self.identity, kind, name)
        )

    # --- values ---------------------------------------------------------------------------------

    def value(self, key: str) -> Any:
        return self.res.values.get(key)

    def follow(
        self, value: Any, stack: StackInput | None = None
    ) -> tuple[StackInput, Resource, str | None] | None:
        """The resource (in this or an earlier stack) a whole-reference value points at."""
        stack = stack or self.stack
        ref = whole_reference(value)
        if ref is None:
            return None
        if ref.address.startswith(REMOTE_STATE):
            source = ref.address.removeprefix(REMOTE_STATE).removeprefix(CROSS_STACK_PREFIX)
            other = self.sim.by_name.get(source)
            if other is None or len(ref.attribute) < 2:
                return None
            output = other.index.by_address.get(f"output.{ref.attribute[1]}")
            return self.follow(output.values.get("value"), other) if output else None
        res = stack.index.by_address.get(ref.address)
        return (stack, res, ref.attr) if res is not None else None

    def literal(self, value: Any) -> Any:
        """The literal a value stands for: itself, or the literal attribute its reference reads."""
        for _ in range(8):  # references to references (cross-stack outputs) resolve in a few steps
            found = self.follow(value)
            if found is None:
                return value
            _, res, attr = found
            if not attr or attr not in res.values:
                return value
            value = res.values[attr]
        return value

    def known(self, value: Any, stack: StackInput | None = None, depth: int = 0) -> str | None:
        """The string a value will hold, or None when it is only known after apply (an id, a URL).

        References inside text are replaced by the literal attribute they read, recursively
        (``${databricks_directory.x.path}/churn``), or by an attribute the provider computes from
        literals (a volume's ``volume_path``).
        """
        stack = stack or self.stack
        if not isinstance(value, str):
            return None
        if not is_interpolation(value):
            return value
        if depth > 8:
            return None
        unknown = False

        def label(ref: Any) -> str:
            nonlocal unknown
            text = "${" + str(ref) + "}"
            found = self.follow(text, stack)
            if found is None:
                unknown = True
                return ""
            other, res, attr = found
            computed = COMPUTED.get((res.type, attr or ""))
            raw = computed(res.values) if computed else res.values.get(attr or "")
            rendered = self.known(raw, other, depth + 1) if raw is not None else None
            if rendered is None:
                unknown = True
                return ""
            return rendered

        out = substitute(value, label)
        return None if unknown or is_interpolation(out) else out

    # --- principals -----------------------------------------------------------------------------

    def principal(self, value: Any, hint: str | None = None) -> Key | None:
        """Who a principal value names; ``hint`` is the key it came from (group_name, user_name...)."""
        found = self.follow(value)
        if found is not None:
            stack, res, attr = found
            return self._principal_of(stack, res, attr)
        if not isinstance(value, str) or not value or is_interpolation(value):
            return None
        by_app = self.world.principal_by_application_id(value)
        if by_app is not None:
            return by_app.key
        if hint == "user_name" or "@" in value:
            return Key(USER, value)
        if hint == "service_principal_name":
            return Key(SP, value)
        return Key(GROUP, value)

    def _principal_of(self, stack: StackInput, res: Resource, attr: str | None) -> Key | None:
        if res.type == "databricks_current_user":
            return stack.identity
        if res.type == "databricks_group":
            name = res.values.get("display_name")
            return Key(GROUP, name) if isinstance(name, str) and not is_interpolation(name) else None
        if res.type == "databricks_service_principal":
            app_id = res.values.get("application_id")
            if isinstance(app_id, str) and not is_interpolation(app_id):
                found = self.world.principal_by_application_id(app_id)
                return found.key if found else Key(SP, app_id)
            name = res.values.get("display_name")
            return Key(SP, name) if isinstance(name, str) and not is_interpolation(name) else None
        if res.type == "databricks_user":
            name = res.values.get("user_name")
            return Key(USER, name) if isinstance(name, str) else None
        return None

    def existing_principal(self, key: Key | None, operation: str, uc: bool = False) -> bool:
        """The principal exists (and, for Unity Catalog, is account-level); failures otherwise."""
        if key is None:
            self.fail("SIM005", operation, "the principal cannot be resolved from the configuration")
            return False
        principal = self.world.principals.get(key)
        if principal is None:
            if uc and key.kind == GROUP and key.name in ("users", "admins"):
                self.fail(
                    "SIM005",
                    operation,
                    f"{key} is a workspace-local system group: not a Unity Catalog principal",
                )
                return False
            self.need("SIM005", operation, f"principal {key.kind}", key.name)
            return False
        if self._unordered(principal.origin, str(key), operation):
            return False
        if uc and not principal.account_level:
            self.fail(
                "SIM005", operation, f"{key} is workspace-local: Unity Catalog takes account-level principals"
            )
            return False
        return True

    # --- identity and membership ----------------------------------------------------------------

    def groups_of(self, key: Key) -> set[Key]:
        """Groups ``key`` belongs to, transitively, counting only memberships this resource can see."""
        out: set[Key] = set()
        frontier = [key]
        while frontier:
            member = frontier.pop()
            for group, members in self.world.members.items():
                if member in members and group not in out and self.sees(members[member]):
                    out.add(group)
                    frontier.append(group)
        return out

    def is_or_in(self, key: Key, owner: Key | None) -> bool:
        return owner is not None and (owner == key or owner in self.groups_of(key))

    def is_account_admin(self, key: Key | None = None) -> bool:
        return (key or self.identity) in self.world.account_admins

    @property
    def account_level(self) -> bool:
        """The resource's provider talks to the account console (host + account_id)."""
        return bool(self.provider_values.get("account_id")) or (
            self.stack.account_level and not self._host_ref()
        )

    def _host_ref(self) -> Any:
        return self.provider_values.get("host")

    def workspace(self) -> Workspace | None:
        """The workspace this resource's provider talks to (None at account level or when unknown)."""
        if self.account_level:
            return None
        host = self._host_ref()
        found = self.follow(host)
        if found is not None:
            stack, res, _ = found
            return self.world.find_workspace(f"{stack.name}:{res.address}")
        if isinstance(host, str) and host:
            return self.world.find_workspace(host)
        return self.world.workspace_for_env(self.stack.env) if self.stack.env else None

    def workspace_level(self, ws: Workspace, key: Key | None = None) -> str | None:
        key = key or self.identity
        best: str | None = None
        for who in {key, *self.groups_of(key)}:
            level, origin = ws.assignments.get(who, (None, None))
            if level and self.sees(origin) and LEVEL_ORDER[level] > LEVEL_ORDER.get(best or "", 0):
                best = level
        return best

    def acting_workspace(self, operation: str) -> Workspace | None:
        """The workspace, once SIM002 holds: the identity must be assigned to it."""
        ws = self.workspace()
        if ws is None:
            self.fail(
                "SIM002",
                operation,
                "the provider's workspace is not one the account stack or the description knows",
            )
            return None
        if self.workspace_level(ws) is None:
            self.sim.fail(
                "SIM002",
                self.stack.name,
                f"provider {self.res.provider}",
                "call the workspace API",
                self.identity,
                f"not assigned to workspace {ws.env or ws.id}",
            )
        return ws

    def acting_on(self, action: str, name: str | None) -> tuple[Workspace, str, str] | None:
        """The acting workspace, ``name`` and the operation's wording (``f"{action} {name}"``).

        None when the provider's workspace is unknown (SIM002) or the name is only known after apply;
        the identity's assignment is checked either way.
        """
        operation = f"{action} {name}"
        ws = self.acting_workspace(operation)
        return None if ws is None or name is None else (ws, name, operation)

    def require_workspace_admin(self, operation: str) -> Workspace | None:
        ws = self.acting_workspace(operation)
        if ws is not None and self.workspace_level(ws) != "ADMIN":
            self.fail("SIM003", operation, f"not a workspace admin of {ws.env or ws.id}")
        return ws

    def require_account_admin(self, operation: str) -> bool:
        if not self.is_account_admin():
            self.fail("SIM004", operation, "not an account admin")
            return False
        return True

    # --- Unity Catalog --------------------------------------------------------------------------

    def securable(
        self, type_: str, name: str | None, operation: str, rule: str = "SIM001"
    ) -> Securable | None:
        """A visible Unity Catalog object; a failure (now, or when the stack is done) otherwise."""
        if name is None:
            self.fail(rule, operation, f"the {type_} name is not known before apply and is not a reference")
            return None
        sec = self.world.securable(type_, name)
        if sec is None:
            self.need(rule, operation, type_, name)
            return None
        if self._unordered(sec.origin, f"{type_} {name!r}", operation):
            return None
        return sec

    def metastore_of(self, sec: Securable | None) -> Securable | None:
        while sec is not None and sec.type != "metastore":
            sec = self.parent(sec) if sec.parent else self.world.securable("metastore", sec.metastore or "")
        return sec

    def parent(self, sec: Securable) -> Securable | None:
        if sec.parent is None:
            return None
        parent_type = "schema" if sec.type in ("volume", "registered_model", "table") else "catalog"
        return self.world.securable(parent_type, sec.parent)

    def is_metastore_admin(self, metastore: Securable | None, key: Key | None = None) -> bool:
        return metastore is not None and self.is_or_in(key or self.identity, metastore.owner)

    def owns(self, sec: Securable, key: Key | None = None) -> bool:
        return self.is_or_in(key or self.identity, sec.owner)

    def has(self, sec: Securable, privilege: str, key: Key | None = None, on_child: bool = False) -> bool:
        """Ownership of the object, or the privilege granted on it or on a container (inherited).

        ``on_child``: the question is about an object inside ``sec`` (a table not modelled by itself):
        owners of a schema do not automatically hold privileges on its tables (Databricks, Manage Unity
        Catalog object ownership), so ownership of ``sec`` does not count, its grants do.
        """
        key = key or self.identity
        if not on_child and self.owns(sec, key):
            return True
        who = {key, *self.groups_of(key)}
        node: Securable | None = sec
        while node is not None:
            for grant in node.grants:
                if (
                    grant.principal in who
                    and self.sees(grant.origin)
                    and grant.privilege in (privilege, "ALL_PRIVILEGES")
                ):
                    return True
            node = self.parent(node) if node.type != "catalog" else None
        return False

    def can_use_path(self, sec: Securable, key: Key | None = None) -> str | None:
        """What is missing to reach ``sec``: USE_CATALOG on its catalog and USE_SCHEMA on its schema."""
        key = key or self.identity
        chain: list[Securable] = []
        node = self.parent(sec) if sec.type in ("volume", "registered_model", "table") else sec
        while node is not None and node.type in ("schema", "catalog"):
            chain.append(node)
            node = self.parent(node)
        for container in chain:
            privilege = "USE_CATALOG" if container.type == "catalog" else "USE_SCHEMA"
            if not self.has(container, privilege, key):
                return f"{privilege} on {container.type} {container.name}"
        return None
