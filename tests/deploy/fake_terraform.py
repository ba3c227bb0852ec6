"""A stand-in for the ``terraform`` CLI, put first on PATH by the deploy tests. It is not a provider.

It proves what the deploy tool asks Terraform to do and with which files; it does not prove that a
real plan or apply of these stacks succeeds (the Databricks provider cannot be installed here).
It follows the documented CLI contract the tool relies on:

* ``version -json`` prints ``{"terraform_version": ...}`` ($FAKE_TF_VERSION, default 1.13.3);
* ``-chdir=DIR init`` creates ``DIR/.terraform/`` and ``DIR/.terraform.lock.hcl``; with
  ``-lockfile=readonly`` it fails when the lock file is missing;
* ``-chdir=DIR plan -out=FILE -detailed-exitcode`` writes FILE (a zip, as real plan files are) holding
  the configuration and the state serial it was made against; exit 2 when something changes, 0 when not;
* ``-chdir=DIR show -json FILE`` prints the plan in the documented shape
  (https://developer.hashicorp.com/terraform/internals/json-format): format_version, terraform_version,
  planned_values, resource_changes (create for what the state lacks, delete for what the config lost,
  values unknown where they reference what only the apply computes, e.g. ids), configuration,
  timestamp;
* ``-chdir=DIR apply FILE`` refuses a stale plan (the state serial moved since the plan, as Terraform
  does: "Saved plan is stale"), then records the resources in the state and bumps its serial.

Every call is appended to $FAKE_TF_LOG as one JSON line (argv, chdir, and the SHA-256 of a plan file
it read). $FAKE_TF_FAIL=init:2,plan injects failures (the first 2 init calls, every plan call);
$FAKE_TF_APPLY_SLEEP slows an apply down so two can overlap.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path

PROVIDER = "registry.terraform.io/databricks/databricks"
META_KEYS = {"//", "lifecycle", "depends_on", "provider", "count", "for_each"}


def log(entry: dict) -> None:
    path = os.environ.get("FAKE_TF_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")


def fail_now(command: str) -> bool:
    for spec in filter(None, os.environ.get("FAKE_TF_FAIL", "").split(",")):
        name, _, times = spec.partition(":")
        if name != command:
            continue
        if not times:
            return True
        counter = Path(os.environ.get("FAKE_TF_LOG", "fake-tf.log") + f".{name}.count")
        seen = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(seen + 1))
        return seen < int(times)
    return False


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def state_path(chdir: Path, config: dict) -> Path:
    local = (config.get("terraform", {}).get("backend") or {}).get("local")
    return chdir / (local or {}).get("path", "terraform.tfstate")


def read_state(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {"serial": 0, "resources": {}}


UNKNOWN = object()
REF = re.compile(r"\$\{([^}]*)\}")


class Evaluator:
    """Resolve ``${...}`` the way a plan does: configured attributes of other resources are known,
    computed ones (``id``, ``volume_path``, ...) are unknown until apply; data sources and remote state
    are read during the plan, so their attributes are known (the fake makes up stable ids)."""

    def __init__(self, config: dict) -> None:
        self.config = config

    def value(self, value):
        if isinstance(value, str):
            return self.string(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value

    def string(self, text: str):
        refs = REF.findall(text)
        if not refs:
            return text
        if len(refs) == 1 and text == "${" + refs[0] + "}":
            return self.ref(refs[0])
        parts = [self.ref(r) for r in refs]
        if any(p is UNKNOWN or isinstance(p, dict | list) for p in parts):
            return UNKNOWN
        return REF.sub(lambda m: str(self.ref(m.group(1))), text)

    def ref(self, expr: str):
        path = expr.split(".")
        if "(" in expr or not path:
            return "d41d8cd98f00b204e9800998ecf8427e" if expr.startswith("filemd5(") else UNKNOWN
        if expr == "terraform.workspace":
            return "default"
        if path[0] == "data":
            if path[1] == "terraform_remote_state":
                return f"remote-{path[-1]}"
            body = (self.config.get("data", {}).get(path[1]) or {}).get(path[2], {})
            if path[3] in body:
                return self.value(body[path[3]])
            return str(int(hashlib.sha256(expr.encode()).hexdigest()[:12], 16))  # read during the plan
        body = (self.config.get("resource", {}).get(path[0]) or {}).get(path[1])
        if body is None or len(path) < 3 or path[2] not in body:
            return UNKNOWN  # computed by the provider on apply
        found = self.value(body[path[2]])
        for key in path[3:]:
            if found is UNKNOWN:
                return UNKNOWN
            found = found[int(key)] if isinstance(found, list) else found.get(key, UNKNOWN)
        return found


def split_unknown(value):
    """(known value, after_unknown marks) as ``terraform show -json`` separates them."""
    if value is UNKNOWN:
        return None, True
    if isinstance(value, dict):
        known, marks = {}, {}
        for key, item in value.items():
            kept, mark = split_unknown(item)
            if mark is True:
                marks[key] = True
                continue
            known[key] = kept
            if mark:
                marks[key] = mark
        return known, marks or None
    if isinstance(value, list):
        pairs = [split_unknown(item) for item in value]
        marks = [m if m is not None else False for _, m in pairs]
        return [k for k, _ in pairs], marks if any(marks) else None
    return value, None


def resources(config: dict) -> dict[str, tuple[str, str, dict]]:
    out = {}
    for rtype, named in (config.get("resource") or {}).items():
        for name, body in named.items():
            out[f"{rtype}.{name}"] = (rtype, name, {k: v for k, v in body.items() if k not in META_KEYS})
    return out


def cmd_init(chdir: Path, args: list[str]) -> int:
    lock = chdir / ".terraform.lock.hcl"
    if "-lockfile=readonly" in args and not lock.exists():
        print("Error: Provider dependency changes detected (no lock file)", file=sys.stderr)
        return 1
    (chdir / ".terraform").mkdir(exist_ok=True)
    if not lock.exists():
        config = json.loads((chdir / "cdk.tf.json").read_text())
        version = config["terraform"]["required_providers"]["databricks"]["version"]
        lock.write_text(f'provider "{PROVIDER}" {{\n  version = "{version}"\n}}\n')
    print("Terraform has been successfully initialized!")
    return 0


def cmd_plan(chdir: Path, args: list[str]) -> int:
    out = Path(next(a for a in args if a.startswith("-out="))[5:])
    config = json.loads((chdir / "cdk.tf.json").read_text())
    state = read_state(state_path(chdir, config))
    wanted = resources(config)
    changes = sorted(set(wanted) ^ set(state["resources"]))
    header = {
        "id": str(uuid.uuid4()),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "state_serial": state["serial"],
        "prior": state["resources"],
    }
    with zipfile.ZipFile(out, "w") as plan:
        plan.writestr("tfplan", json.dumps(header))
        plan.writestr("tfconfig/cdk.tf.json", json.dumps(config))
    print(f"Plan: {len(changes)} to change.")
    return 2 if changes else 0


def cmd_show(chdir: Path, args: list[str]) -> int:
    plan_file = Path(args[-1])
    with zipfile.ZipFile(plan_file) as plan:
        header = json.loads(plan.read("tfplan"))
        config = json.loads(plan.read("tfconfig/cdk.tf.json"))
    wanted = resources(config)
    evaluate = Evaluator(config)
    changes, planned = [], []
    for address in sorted(set(wanted) | set(header["prior"])):
        rtype, name = address.split(".", 1)
        if address in wanted:
            after, unknown = split_unknown(evaluate.value(wanted[address][2]))
            actions = ["no-op"] if address in header["prior"] else ["create"]
            before = after if actions == ["no-op"] else None
            planned.append(
                {
                    "address": address,
                    "mode": "managed",
                    "type": rtype,
                    "name": name,
                    "provider_name": PROVIDER,
                    "schema_version": 0,
                    "values": after,
                    "sensitive_values": {},
                }
            )
        else:
            after, unknown, actions, before = None, None, ["delete"], header["prior"][address]
        changes.append(
            {
                "address": address,
                "mode": "managed",
                "type": rtype,
                "name": name,
                "provider_name": PROVIDER,
                "change": {
                    "actions": actions,
                    "before": before,
                    "after": after,
                    "after_unknown": unknown or {},
                    "before_sensitive": {},
                    "after_sensitive": {},
                },
            }
        )
    doc = {
        "format_version": "1.2",
        "terraform_version": os.environ.get("FAKE_TF_VERSION", "1.13.3"),
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": changes,
        "configuration": {
            "provider_config": {"databricks": {"name": "databricks", "full_name": PROVIDER}},
            "root_module": {
                "resources": [
                    {
                        "address": a,
                        "mode": "managed",
                        "type": t,
                        "name": n,
                        "provider_config_key": "databricks",
                        "expressions": {},
                    }
                    for a, (t, n, _) in sorted(wanted.items())
                ]
            },
        },
        "timestamp": header["timestamp"],
        "applyable": any(c["change"]["actions"] != ["no-op"] for c in changes),
        "complete": True,
        "errored": False,
    }
    print(json.dumps(doc))
    return 0


def cmd_apply(chdir: Path, args: list[str]) -> int:
    plan_file = Path(args[-1])
    with zipfile.ZipFile(plan_file) as plan:
        header = json.loads(plan.read("tfplan"))
        config = json.loads(plan.read("tfconfig/cdk.tf.json"))
    path = state_path(chdir, config)
    state = read_state(path)
    if state["serial"] != header["state_serial"]:
        print("Error: Saved plan is stale", file=sys.stderr)
        return 1
    time.sleep(float(os.environ.get("FAKE_TF_APPLY_SLEEP", "0")))
    wanted = resources(config)
    path.write_text(
        json.dumps({"serial": state["serial"] + 1, "resources": {a: r[2] for a, r in wanted.items()}})
    )
    print(f"Apply complete! Resources: {len(wanted)} in state.")
    return 0


def main(argv: list[str]) -> int:
    chdir = Path(".")
    args = list(argv)
    if args and args[0].startswith("-chdir="):
        chdir = Path(args.pop(0)[len("-chdir=") :])
    command = args[0] if args else ""
    entry = {"argv": argv, "chdir": str(chdir.resolve()), "command": command}
    if command in ("show", "apply") and args:
        entry["plan_sha256"] = sha256(Path(args[-1]))
    log(entry)
    if command in ("-v", "version") and "-json" not in args:  # the CDK CLIs ask during synth
        print(f"Terraform v{os.environ.get('FAKE_TF_VERSION', '1.13.3')}")
        return 0
    if command == "version":
        print(
            json.dumps(
                {
                    "terraform_version": os.environ.get("FAKE_TF_VERSION", "1.13.3"),
                    "platform": "linux_amd64",
                    "provider_selections": {},
                    "terraform_outdated": False,
                }
            )
        )
        return 0
    if fail_now(command):
        print(f"Error: injected failure of terraform {command}", file=sys.stderr)
        return 1
    handler = {"init": cmd_init, "plan": cmd_plan, "show": cmd_show, "apply": cmd_apply}.get(command)
    if handler is None:
        print(f"fake terraform: unsupported command {argv}", file=sys.stderr)
        return 64
    return handler(chdir, args[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
