"""Rules that span several fields or files; each returns Problems with exact key paths."""

from __future__ import annotations

from collections.abc import Collection, Iterator

from mlops_spec.config.compute import is_gpu_node
from mlops_spec.config.cron import cron_problem
from mlops_spec.config.environment import REQUIRED_TAGS, EnvironmentConfig
from mlops_spec.config.errors import Problem, allowed
from mlops_spec.config.fleet import check_fleet
from mlops_spec.config.model_spec import GPU_ALGORITHMS, ModelSpec
from mlops_spec.config.roles import CATALOG_PRIVILEGES, MODEL_PRIVILEGES, SCHEMA_PRIVILEGES, RoleMatrix
from mlops_spec.naming import PLATFORM_SCHEMAS


def check_environment(env: EnvironmentConfig, file: str) -> Iterator[Problem]:
    for tag in REQUIRED_TAGS:
        if not env.tags.get(tag):
            yield Problem(
                file,
                ("tags", tag),
                "required tag is missing",
                show_value=False,
                allowed=f"tags must set {', '.join(REQUIRED_TAGS)}",
            )
    if env.tags.get("env") and env.tags["env"] != env.environment:
        yield Problem(
            file, ("tags", "env"), "must equal the environment name", env.tags["env"], env.environment
        )
    yield from _check_compute(env, file)
    yield from _check_run_as(env, file)
    yield from _check_approvals(env, file)
    yield from check_fleet(env, file)
    if env.is_prod and not env.network.ip_access_lists:
        yield Problem(
            file,
            ("network", "ip_access_lists"),
            "production needs at least one IP access list",
            show_value=False,
        )
    if env.is_prod and not env.logging.cluster_log_volume:
        yield Problem(
            file,
            ("logging", "cluster_log_volume"),
            "production job clusters must deliver logs",
            None,
            "a UC volume name",
        )
    names = [s.name for s in env.secret_scopes]
    for i, name in enumerate(names):
        if name in names[:i]:
            yield Problem(file, ("secret_scopes", i, "name"), "duplicate secret scope", name)
    if env.artifacts.schema_name not in PLATFORM_SCHEMAS:
        yield Problem(
            file,
            ("artifacts", "schema_name"),
            "not a platform schema",
            env.artifacts.schema_name,
            allowed(PLATFORM_SCHEMAS),
        )


def _check_compute(env: EnvironmentConfig, file: str) -> Iterator[Problem]:
    for name, profile in env.compute.profiles().items():
        wants_gpu = name == "gpu_training"
        for i, node in enumerate(profile.node_types):
            if is_gpu_node(node) != wants_gpu:
                kind = "a GPU" if is_gpu_node(node) else "a CPU"
                yield Problem(
                    file,
                    ("compute", name, "node_types", i),
                    f"{kind} node type in the {name} policy",
                    node,
                    "GPU node types only" if wants_gpu else "CPU node types only",
                )
        if wants_gpu and "gpu" not in profile.runtime:
            yield Problem(
                file,
                ("compute", name, "runtime"),
                "GPU training needs a GPU ML runtime",
                profile.runtime,
                "e.g. 18.0.x-gpu-ml-scala2.13 (leave runtime unset for the platform's)",
            )
    interactive = env.compute.interactive
    if interactive is not None:
        if env.is_prod:
            yield Problem(
                file,
                ("compute", "interactive"),
                "no all-purpose compute in production",
                show_value=False,
                allowed="null",
            )
        if interactive.autotermination_minutes is None:
            yield Problem(
                file,
                ("compute", "interactive", "autotermination_minutes"),
                "interactive compute must auto-terminate",
                None,
                "10-120 minutes",
            )


def _check_approvals(env: EnvironmentConfig, file: str) -> Iterator[Problem]:
    chains: dict[tuple[str, ...], tuple[str, ...]] = {("chain",): env.approvals.chain}
    chains.update({("chains", tier): chain for tier, chain in env.approvals.chains.items()})
    for path, chain in chains.items():
        for i, role in enumerate(chain):
            if role not in env.groups:
                yield Problem(
                    file,
                    ("approvals", *path, i),
                    "not a group of this environment",
                    role,
                    allowed(env.groups),
                )


def _check_run_as(env: EnvironmentConfig, file: str) -> Iterator[Problem]:
    run_as = env.jobs.run_as
    if run_as is None and env.environment != "dev":
        yield Problem(
            file,
            ("jobs", "run_as"),
            f"{env.environment} jobs must run as a service principal",
            None,
            allowed(env.service_principals, "a key of service_principals"),
        )
    elif run_as is not None and run_as not in env.service_principals:
        yield Problem(
            file,
            ("jobs", "run_as"),
            "unknown service principal",
            run_as,
            allowed(env.service_principals, "none configured"),
        )


def check_roles_against_env(roles: RoleMatrix, env: EnvironmentConfig, env_file: str) -> Iterator[Problem]:
    for key in roles.groups():
        if key not in env.groups:
            yield Problem(
                env_file, ("groups", key), "role from policies/rbac/roles.yaml has no group", show_value=False
            )
    for key in env.groups:
        if key not in roles.groups():
            yield Problem(env_file, ("groups", key), "unknown role", key, allowed(roles.groups()))
    for key in roles.service_principals():
        if key not in env.service_principals:
            yield Problem(
                env_file,
                ("service_principals", key),
                "role from policies/rbac/roles.yaml needs a service principal",
                show_value=False,
            )
    principals = set(roles.groups()) | set(env.groups.values())
    for i, grant in enumerate(env.grants):
        if grant.principal not in principals:
            yield Problem(
                env_file, ("grants", i, "principal"), "unknown group", grant.principal, allowed(principals)
            )
        yield from _check_grant_target(grant.securable, grant.privileges, env, env_file, ("grants", i))


def _check_grant_target(
    securable: str,
    privileges: tuple[str, ...],
    env: EnvironmentConfig,
    file: str,
    path: tuple[str | int, ...],
) -> Iterator[Problem]:
    kind, _, name = securable.partition(":")
    if kind == "catalog" and not name:
        valid = CATALOG_PRIVILEGES
    elif kind == "schema" and name in PLATFORM_SCHEMAS:
        valid = SCHEMA_PRIVILEGES
    else:
        securables = "catalog, " + ", ".join(f"schema:{s}" for s in PLATFORM_SCHEMAS)
        yield Problem(file, (*path, "securable"), "unknown securable", securable, securables)
        return
    for j, privilege in enumerate(privileges):
        if privilege not in valid:
            yield Problem(
                file, (*path, "privileges", j), f"unknown privilege for a {kind}", privilege, allowed(valid)
            )


def _unknown_privileges(
    privileges: tuple[str, ...] | None,
    valid: frozenset[str],
    kind: str,
    file: str,
    path: tuple[str | int, ...],
) -> Iterator[Problem]:
    for j, p in enumerate(privileges or ()):
        if p not in valid:
            yield Problem(file, (*path, j), f"unknown privilege for a {kind}", p, allowed(valid))


def check_role_matrix(roles: RoleMatrix, file: str, envs: tuple[str, ...]) -> Iterator[Problem]:
    sps = roles.service_principals()
    owner = roles.roles[roles.model_owner_role]
    if owner.kind != "group":
        yield Problem(
            file,
            ("model_owner_role",),
            "must be a group role",
            roles.model_owner_role,
            allowed(roles.groups()),
        )
    for key, role in roles.roles.items():
        for i, member in enumerate(role.members):
            if role.kind != "group":
                yield Problem(file, ("roles", key, "members", i), "only a group has members", member)
            elif member not in sps:
                yield Problem(
                    file, ("roles", key, "members", i), "not a service principal role", member, allowed(sps)
                )
        for env in envs:
            base = ("roles", key)
            yield from _unknown_privileges(
                role.catalog.for_env(env), CATALOG_PRIVILEGES, "catalog", file, (*base, "catalog", env)
            )
            for schema, per_env in role.schemas.items():
                if schema not in PLATFORM_SCHEMAS and env == envs[0]:
                    yield Problem(
                        file,
                        (*base, "schemas", schema),
                        "not a platform schema",
                        schema,
                        allowed(PLATFORM_SCHEMAS),
                    )
                yield from _unknown_privileges(
                    per_env.for_env(env), SCHEMA_PRIVILEGES, "schema", file, (*base, "schemas", schema, env)
                )
            yield from _unknown_privileges(
                role.models.for_env(env), MODEL_PRIVILEGES, "model", file, (*base, "models", env)
            )


def check_model(
    model: ModelSpec, groups: Collection[str], file: str, path: tuple[str | int, ...]
) -> Iterator[Problem]:
    """``groups``: the role keys of the groups (the role matrix's, which every environment maps)."""
    if model.owner_group not in groups:
        yield Problem(file, (*path, "owner_group"), "unknown group", model.owner_group, allowed(groups))
    for section in ("training", "monitoring"):
        cron = getattr(model, section).schedule
        if (why := cron_problem(cron)) is not None:
            yield Problem(file, (*path, section, "schedule"), f"invalid cron: {why}", cron)
    features = set(model.data.features)
    for column in ("sensitive_attribute", "segment_column"):
        value = getattr(model.data, column)
        if value is not None and value not in features:
            yield Problem(
                file,
                (*path, "data", column),
                "must be one of the model's features",
                value,
                allowed(features),
            )
    if model.data.label in features:
        yield Problem(file, (*path, "data", "label"), "the label cannot also be a feature", model.data.label)
    if model.training.compute == "gpu" and model.training.algorithm not in GPU_ALGORITHMS:
        yield Problem(
            file,
            (*path, "training", "compute"),
            f"algorithm {model.training.algorithm!r} cannot use the GPU training policy",
            model.training.compute,
            f"cpu; or gpu with training.algorithm one of {allowed(GPU_ALGORITHMS)}",
        )
