"""The shipped IAM policy covers every AWS call the drift scan and pricing refresh make, and only
read-only ones (Describe/List/Get)."""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = [ROOT / "src/tagguard/sources/aws/inventory.py", ROOT / "src/tagguard/sources/aws/accounts.py",
        ROOT / "src/tagguard/pricing/refresh.py"]
# client variable/parameter name in our code -> IAM service prefix
CLIENTS = {"ec2": "ec2", "ec2_client": "ec2", "asg": "autoscaling", "asg_client": "autoscaling", "eks": "eks",
           "sm": "sagemaker", "br": "bedrock", "tagging": "tag", "orgs": "organizations", "pricing": "pricing",
           "pricing_client": "pricing", "sts": "sts"}
NOT_CALLS = {"get_paginator", "client", "paginate"}


def _camel(op: str) -> str:
    return "".join(p.capitalize() for p in op.split("_"))


def used_actions():
    actions = set()
    for path in CODE:
        text = path.read_text()
        for var, op in re.findall(r"\b([a-z_0-9]+)\.([a-z_]+)\(", text):
            if var in CLIENTS and op not in NOT_CALLS:
                actions.add(f"{CLIENTS[var]}:{_camel(op)}")
        for var, op in re.findall(r"\b([a-z_0-9]+)\.get_paginator\(\"([a-z_]+)\"\)", text):
            actions.add(f"{CLIENTS[var]}:{_camel(op)}")
        for _svc, op in re.findall(r"client\(\"(sts)\"[^)]*\)\.([a-z_]+)\(", text):
            actions.add(f"sts:{_camel(op)}")
    return actions


def policy_actions():
    policy = json.loads((ROOT / "policies/aws-readonly-policy.json").read_text())
    return {a for st in policy["Statement"] for a in st["Action"]}


def test_policy_covers_every_call():
    used = used_actions()
    assert len(used) >= 20, used  # the grep found the calls
    assert {"ec2:DescribeInstances", "eks:DescribeNodegroup", "sagemaker:ListTags", "sts:AssumeRole",
            "pricing:GetProducts", "ec2:DescribeSpotPriceHistory"} <= used
    missing = used - policy_actions() - {"sts:AssumeRole"}  # AssumeRole is granted by the caller's own policy
    assert not missing, f"add to policies/aws-readonly-policy.json: {sorted(missing)}"


def test_policy_is_read_only_and_minimal():
    actions = policy_actions()
    for a in actions:
        assert re.match(r"^[a-z0-9-]+:(Describe|List|Get)[A-Za-z]+$", a), a
    unused = actions - used_actions()
    assert not unused, f"policy grants calls tagguard never makes: {sorted(unused)}"
