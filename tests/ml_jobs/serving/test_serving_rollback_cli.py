"""``rollback`` moves what the endpoint serves, and ``deploy --rollback`` afterwards keeps it there.

Against the local registry (SQLite, the champion ledger in local Delta) and the fake serving API.
What it proves: after a registry rollback the endpoint serves the restored champion with the bad
version dropped; a re-run changes nothing; ``deploy --rollback`` then does not switch toward the
rolled-back version. What it does not prove: Databricks' own timing or a real workspace's auth.
"""

from __future__ import annotations

import json

import pytest

from ml_jobs import deploy, rollback
from ml_jobs.errors import EXIT_OK

ENDPOINT = "marketing-churn-gbm-dev"
REGISTERED = "mlops_dev.models.marketing_churn_gbm"
pytestmark = pytest.mark.usefixtures("deploy_env")


@pytest.fixture
def root(tmp_path):
    """A local registry with versions 1-2, each from a run (the model card is logged to it)."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri, registry_uri=uri)
    experiment = client.create_experiment("train", artifact_location=(tmp_path / "artifacts").as_uri())
    client.create_registered_model(REGISTERED)
    for _ in range(2):
        run = client.create_run(experiment)
        client.create_model_version(REGISTERED, source=str(tmp_path / "no-artifacts"), run_id=run.info.run_id)
    return tmp_path


@pytest.fixture
def aliases(root):
    """``aliases(champion="2", previous_champion="1")`` on this test's registry."""
    from mlflow import MlflowClient

    def set_(**values: str) -> None:
        uri = f"sqlite:///{root / 'mlflow.db'}"
        client = MlflowClient(uri, registry_uri=uri)
        for alias, version in values.items():
            client.set_registered_model_alias(REGISTERED, alias, version)

    return set_


@pytest.fixture
def cli(fake_serving, root, monkeypatch, capsys):
    _, url = fake_serving
    monkeypatch.setenv("DATABRICKS_TOKEN", "x")
    monkeypatch.setenv("MLOPS_ACTOR", "oncall")

    def run_(main, *extra: str) -> tuple[int, dict]:
        code = main(["--model", "marketing_churn_gbm", "--env", "dev", "--local-root", str(root),
                     "--host", url, "--bake-seconds", "0", "--poll-seconds", "0.01",
                     "--api-retry-seconds", "1", *extra])
        out, err = capsys.readouterr()
        assert out.strip(), f"exit {code}, no report; stderr: {err[-2000:]}"
        return code, json.loads(out)

    return run_


def test_rollback_serves_the_previous_champion_and_deploy_rollback_keeps_it(fake, cli, aliases):
    fake.add(ENDPOINT, {"2": 100})  # v2 was promoted and rolled out, then found bad
    aliases(champion="2", previous_champion="1")

    code, out = cli(rollback.main)
    assert code == EXIT_OK and out["champion"] == "1"
    assert out["endpoint"]["status"] == "done" and fake.serving() == {"1": 100}

    again, out = cli(rollback.main)  # a re-run (e.g. after a kill) changes nothing
    assert again == EXIT_OK and out["endpoint"]["status"] == "unchanged"

    puts = len(fake.updates())
    code, out = cli(deploy.main, "--rollback")
    assert code == EXIT_OK and fake.serving() == {"1": 100}
    assert len(fake.updates()) == puts  # nothing sent toward v2


def test_deploy_rollback_after_an_alias_only_rollback_restores_the_champion(
    fake, cli, aliases, root, capsys
):
    """The registry was rolled back without a workspace (endpoint untouched, still serving v2):
    ``deploy --rollback`` must bring v1 back, not "switch back" to v2."""
    fake.add(ENDPOINT, {"2": 100})
    aliases(champion="2", previous_champion="1")
    code = rollback.main(["--model", "marketing_churn_gbm", "--env", "dev", "--local-root", str(root)])
    out = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK and out["endpoint"]["status"] == "not_touched" and fake.serving() == {"2": 100}

    code, out = cli(deploy.main, "--rollback")
    assert code == EXIT_OK and out["status"] == "done" and fake.serving() == {"1": 100}
    assert all(split.get("2", 0) == 0 for split in fake.updates()[1:])
