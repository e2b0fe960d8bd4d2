"""`tagguard drift` end to end: a subprocess CLI against moto's server on 127.0.0.1, through a fault
proxy that denies one account's role and throttles one region (things moto cannot do)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from clikit import run_cli

pytest.importorskip("moto")
pytest.importorskip("boto3")

HERE = Path(__file__).parent
# moto 5.2.1 lacks bedrock:ListProvisionedModelThroughputs (tested with Stubber)
SERVICES = "ec2,autoscaling,eks,sagemaker"


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    from moto.server import ThreadedMotoServer

    sys.path.insert(0, str(HERE))
    from fixtures.aws.faultproxy import FaultProxy
    from fixtures.aws.seed import seed

    env_keys = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    old = {k: os.environ.get(k) for k in env_keys}
    os.environ.update(env_keys)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    info = seed(endpoint)
    proxy = FaultProxy(endpoint, deny_assume=[info["locked"]], throttle_regions=["eu-west-1"]).start()
    tmp = tmp_path_factory.mktemp("drift")
    # the environment changes for the tagguard processes (clikit.run_cli)
    env: dict[str, str | None] = {**env_keys, "AWS_ENDPOINT_URL": proxy.url, "CI": "1", "HOME": str(tmp),
                                  "TAGGUARD_LOCAL_RATECARD": str(tmp / "none.json"), "AWS_PROFILE": None}
    yield {"info": info, "env": env, "tmp": tmp, "endpoint": endpoint}
    proxy.stop()
    server.stop()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def drift(org, *args, cwd=None):
    return run_cli("drift", "--services", SERVICES, "--max-attempts", "2", *args, process=True, env=org["env"],
                   timeout=240, cwd=cwd or org["tmp"])


@pytest.fixture(scope="module")
def org_run(org):
    out = org["tmp"] / "drift.json"
    html = org["tmp"] / "drift.html"
    db = org["tmp"] / "history.db"
    p = drift(org, "--org", "--role-name", "TagguardReadOnly", "--regions", "us-east-1,us-west-2,eu-west-1",
              "-f", "json", "-o", str(out), "--html", str(html), "--history", str(db))
    return p, json.loads(out.read_text()), html, db


def test_incomplete_scan_exit_code_and_errors(org, org_run):
    p, data, _, _ = org_run
    assert p.returncode == 3, p.stderr
    assert "scan incomplete" in p.stderr and "Traceback" not in p.stderr
    locked = [e for e in data["errors"] if e["account"] == org["info"]["locked"]]
    assert len(locked) == 1 and locked[0]["code"] == "AccessDenied" and locked[0]["operation"] == "AssumeRole"
    assert locked[0]["regions"] == ["eu-west-1", "us-east-1", "us-west-2"]
    throttled = [e for e in data["errors"] if e.get("region") == "eu-west-1" and e["service"] == "ec2"]
    assert {e["account"] for e in throttled} == {org["info"]["management"], org["info"]["member"]}
    assert all(e["code"] == "RequestLimitExceeded" for e in throttled)
    assert data["drift"]["complete"] is False and data["drift"]["calls"] > 20


def test_inventory_covers_both_accounts_regions_and_services(org, org_run):
    _, data, _, _ = org_run
    info = org["info"]
    by_type = {}
    for r in data["resources"]:
        by_type.setdefault(r["type"], []).append(r)
        assert r["address"].startswith("arn:aws:") and r["source"] == "aws"
    assert set(by_type) == {"aws_instance", "aws_autoscaling_group", "aws_eks_node_group",
                            "aws_sagemaker_endpoint", "aws_sagemaker_notebook_instance"}
    instances = {r["meta"]["instance_id"]: r for r in by_type["aws_instance"]}
    assert info["cpu"] not in instances  # m5.large is not an AI resource
    assert set(instances) == {info["tagged"], info["untagged"], info["stopped"], info["west_untagged"],
                              info["member_west"]}
    p4d = instances[info["tagged"]]
    assert p4d["compute"]["accelerator"] == "A100" and p4d["compute"]["gpus_per_unit"] == 8
    assert p4d["meta"]["account"] == info["management"] and p4d["meta"]["region"] == "us-east-1"
    assert p4d["cost"]["monthly_usd"] == pytest.approx(21.957642 * 730, abs=0.01)
    stopped = instances[info["stopped"]]
    assert stopped["meta"]["state"] == "stopped" and stopped["cost"]["monthly_usd"] == 0
    assert any("EBS volumes are still billed" in n for n in stopped["compute"]["notes"])
    assert instances[info["west_untagged"]]["meta"]["region"] == "us-west-2"
    asg = by_type["aws_autoscaling_group"][0]
    assert asg["compute"]["instance_type"] == "g5.2xlarge" and asg["compute"]["units"] == 2
    ng = by_type["aws_eks_node_group"][0]
    assert ng["compute"]["units"] == 2 and sorted(ng["meta"]["instances"]) == sorted(info["ng_instances"])
    ep = by_type["aws_sagemaker_endpoint"][0]
    assert ep["compute"]["instance_type"] == "ml.g4dn.2xlarge" and ep["compute"]["units"] == 2


def test_findings_carry_account_region_and_live_tags(org, org_run):
    _, data, _, _ = org_run
    info = org["info"]
    f = [x for x in data["findings"] if x["rule"] == "invalid-value"]
    assert len(f) == 1 and f[0]["account"] == info["member"] and f[0]["region"] == "us-west-2"
    assert f[0]["live_tags"]["environment"] == "production"
    prop = [x for x in data["findings"] if x["rule"] == "not-propagated"]
    ng = [x for x in prop if ":nodegroup/" in x["address"]]
    assert sorted(x["tag"] for x in ng) == ["cost-center", "environment", "project"]  # business-unit did reach them
    assert sorted(ng[0]["instances"]) == sorted(info["ng_instances"])
    asg = [x for x in prop if "autoScalingGroup" in x["address"]]
    assert [x["tag"] for x in asg] == ["cost-center"]  # the only tag with PropagateAtLaunch=false
    untagged = [x for x in data["findings"] if info["untagged"] in (x["address"] or "") and x["rule"] == "missing-tag"]
    assert sorted(x["tag"] for x in untagged) == ["business-unit", "cost-center", "environment", "project"]


def test_showback_history_and_html_written(org, org_run):
    _, data, html, db = org_run
    sb = data["showback"]
    bu = {r["value"]: r["monthly_usd"] for r in sb["dimensions"]["business_unit"]["rows"]}
    # p4d + tagged notebook; the member g5.xlarge has an invalid environment, so its spend is unallocated
    # in every table (one definition of unallocated), even though its business-unit is set; stopped g4dn is $0
    assert bu["research"] == pytest.approx(21.957642 * 730 + 2792.25, abs=1)
    assert sb["dimensions"]["business_unit"]["unallocated"]["monthly_usd"] == sb["totals"]["unallocated_monthly_usd"]
    assert sb["totals"]["unallocated_monthly_usd"] > 0
    assert sb["top_unallocated"][0]["monthly_usd"] >= sb["top_unallocated"][-1]["monthly_usd"]
    assert data["history"]["first_run"] is True
    text = html.read_text()
    assert ('id="team-chart"' in text and 'id="violations"' in text
            and "http://" not in text.replace("http://www.w3.org/2000/svg", ""))
    assert db.exists()


def test_second_run_reports_fixed_and_history_command(org, org_run):
    import boto3

    _, first, _, db = org_run
    info = org["info"]
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=org["endpoint"])
    ec2.create_tags(Resources=[info["untagged"]], Tags=[{"Key": k, "Value": v} for k, v in
                                                         {"business-unit": "ads", "project": "rank",
                                                          "environment": "dev", "cost-center": "CC-7"}.items()])
    out = org["tmp"] / "drift2.json"
    p = drift(org, "--org", "--role-name", "TagguardReadOnly", "--regions", "us-east-1,us-west-2,eu-west-1",
              "-f", "json", "-o", str(out), "--history", str(db))
    assert p.returncode == 3
    h = json.loads(out.read_text())["history"]
    assert h["previous_run_id"] == 1 and h["run_id"] == 2
    fixed = {(x["address"], x["tag"]) for x in h["fixed"]}
    assert {t for a, t in fixed if info["untagged"] in a} == {"business-unit", "project", "environment", "cost-center"}
    assert h["new"] == [] and h["still_open"] == len(first["findings"]) - 4
    assert len(h["trend"]) == 2 and h["trend"][1]["unallocated_usd"] < h["trend"][0]["unallocated_usd"]
    p = run_cli("history", db, process=True, env=org["env"])
    assert p.returncode == 0 and "incomplete" in p.stdout and len(p.stdout.strip().splitlines()) == 3
    # showback from the drift JSON
    p = run_cli("report", "showback", "--from", out, "-f", "csv", process=True, env=org["env"])
    # the drift run was incomplete, so is a showback of it: written, and exit 3 like the run (one exit rule)
    assert p.returncode == 3, p.stderr
    assert "tagguard: incomplete:" in p.stderr
    assert "dimension,business_unit,ads," in p.stdout


def test_state_comparison_tag_drift_and_unmanaged(org, tmp_path):
    info = org["info"]
    state = {"version": 4, "terraform_version": "1.9.0", "resources": [
        {"mode": "managed", "type": "aws_instance", "name": "trainer",
         "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
         "instances": [{"attributes": {"id": info["tagged"],
                                       "arn": f"arn:aws:ec2:us-east-1:{info['management']}:instance/{info['tagged']}",
                                       "tags": {"cost-center": "CC-100"},
                                       "tags_all": {"business-unit": "research", "project": "llm",
                                                    "environment": "prod",
                                                    "cost-center": "CC-999", "owner": "ml-team"}}}]}]}
    path = tmp_path / "terraform.tfstate"
    path.write_text(json.dumps(state))
    out = tmp_path / "d.json"
    p = drift(org, "--regions", "us-east-1", "-f", "json", "-o", str(out), "--state", str(path))
    assert p.returncode == 1, p.stderr  # complete scan, blocking missing-tag errors
    data = json.loads(out.read_text())
    assert data["errors"] == []
    drifted = [f for f in data["findings"] if f["rule"] == "tag-drift"]
    assert sorted(f["tag"] for f in drifted) == ["cost-center", "owner"]
    cc = [f for f in drifted if f["tag"] == "cost-center"][0]
    assert (cc["live_value"] == "CC-100" and cc["state_value"] == "CC-999"
            and cc["terraform_address"] == "aws_instance.trainer")
    unmanaged = {f["address"] for f in data["findings"] if f["rule"] == "unmanaged-resource"}
    assert any(info["untagged"] in a for a in unmanaged) and not any(info["tagged"] in a for a in unmanaged)


def test_scope_all_lists_plain_resources(org, tmp_path):
    out = tmp_path / "all.json"
    p = drift(org, "--regions", "us-east-1", "--scope", "all", "--services", "ec2,tagging", "-f", "json",
              "-o", str(out))
    data = json.loads(out.read_text())
    assert data["errors"] == [], data["errors"]
    cpu = [r for r in data["resources"] if r["meta"].get("instance_id") == org["info"]["cpu"]]
    assert cpu and cpu[0]["ai"] is False and cpu[0]["tags"] == {"Name": "web"}
    assert p.returncode == 1


def test_bad_state_file_is_one_line_finding(org, tmp_path):
    bad = tmp_path / "broken.tfstate"
    bad.write_text('{"version": 4,\n "resources": [\n')
    out = tmp_path / "b.json"
    p = drift(org, "--regions", "us-east-1", "--state", str(bad), "-f", "json", "-o", str(out))
    assert "Traceback" not in p.stderr
    errs = [f for f in json.loads(out.read_text())["findings"] if f["rule"] == "parse-error"]
    assert len(errs) == 1 and str(bad) in errs[0]["message"] and errs[0]["line"] == 3


def test_missing_boto3_is_one_line_error(tmp_path):
    code = "import sys; sys.modules['boto3'] = None; from tagguard.cli import main; main(['drift'])"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 2
    assert p.stderr.strip() == "tagguard: error: the drift scan needs boto3: pip install 'tagguard[aws]'"


def test_bad_credentials_is_one_line_error(org, tmp_path):
    env = dict(org["env"], AWS_ENDPOINT_URL="http://127.0.0.1:9")  # nothing listens there
    p = run_cli("drift", "--max-attempts", "1", process=True, env=env, timeout=120, cwd=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.startswith("tagguard: error: cannot scan: sts GetCallerIdentity")
