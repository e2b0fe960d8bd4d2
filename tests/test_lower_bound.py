"""A GPU request that no node information places (no nodeSelector, required affinity or GPU label) is priced at
a stated lower bound: the cheapest per-accelerator on-demand rate among the types that could serve it (the
scan's GPU pools offering the resource, else the rate card's types in the clouds the scan targets) x the
request, marked ``cost.lower_bound``, with a ``price-lower-bound`` warning (docs/pricing.md).

Expected figures are worked out by hand from the shipped rate card (policies/ratecard.json) and checked
against it in ``test_the_hand_figures_are_the_rate_card``."""
from __future__ import annotations

import json

import pytest
from clikit import run_cli, scan_json as scan, report_resource as resource

from tagguard.pricing import catalog

HOURS = 730

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: ml}}
spec:
  replicas: {replicas}
  template:
    spec:
{extra}      containers:
      - name: c
        image: x
        resources: {{limits: {{{resource}: {count}}}}}
"""

# Hand figures from the shipped rate card (on-demand USD per accelerator-hour)
T4_AWS = 0.526  # g4dn.xlarge: 1 x T4 at $0.526/h (Azure Standard_NC4as_T4_v3 is the same), the cheapest x86 T4
# g5g.xlarge (Graviton2 + 1 T4G) at $0.42/h, SkyPilot's AWS catalog via policies/ratecard_supplement.yaml: the cheapest
# NVIDIA GPU of every instance type on the card, so the floor over AWS (2 x 730 h x 0.42 = 613.20)
T4G_AWS = 0.42
L4_GCP = 0.706832  # g2-standard-4: 1 x L4 at $0.706832/h, the cheapest GCP machine type per accelerator
# GCP bills an N1 VM's attached T4 apart from the VM: $0.35/GPU-hour GPU only (rate card attached_gpus, SkyPilot's
# GCP catalog, us-central1), below every type's per-GPU rate -- the floor of a request any GCP node may serve
T4_GCP = 0.35
A100_AWS = 2.74470525  # p4d.24xlarge: 8 x A100 at $21.957642/h, the cheapest MIG-capable GPU per accelerator
INF1 = 0.228  # inf1.xlarge: 1 Inferentia at $0.228/h
TPU_V5E = 1.2  # TPU v5e per chip-hour, the cheapest TPU generation


def test_the_hand_figures_are_the_rate_card():
    card = catalog.load()
    rows = [i for i in card.instances.values() if i.gpu_model and i.accelerator_count and i.on_demand is not None]

    def cheapest(pred):
        return min(i.on_demand / i.accelerator_count for i in rows if pred(i))

    non_nvidia = {"Inferentia", "Inferentia2", "Trainium", "Trainium2", "Gaudi"}
    assert cheapest(lambda i: i.gpu_model not in non_nvidia) == T4G_AWS == card.lookup("g5g.xlarge").on_demand
    assert card.lookup("g5g.xlarge").gpu_model == "T4G" and card.lookup("g4dn.xlarge").on_demand == T4_AWS
    assert cheapest(lambda i: i.gpu_model not in non_nvidia and i.provider == "azure") == T4_AWS
    assert cheapest(lambda i: i.provider == "gcp") == L4_GCP == card.lookup("g2-standard-4").on_demand
    assert cheapest(lambda i: i.gpu_model in ("A100", "H100", "H200", "B200", "B300")) == pytest.approx(A100_AWS)
    assert card.lookup("p4d.24xlarge").on_demand / 8 == pytest.approx(A100_AWS)
    assert cheapest(lambda i: i.gpu_model in ("Inferentia", "Inferentia2", "Trainium", "Trainium2")) == INF1
    assert card.gpu_hourly("TPU v5e").usd_per_gpu_hour == TPU_V5E
    attached = card.raw["attached_gpus"]
    assert attached["gcp/T4"]["usd_per_gpu_hour"] == T4_GCP and attached["gcp/T4"]["max_per_vm"] == 4
    assert min(a["usd_per_gpu_hour"] for a in attached.values()) == T4_GCP < T4G_AWS




def findings(doc: dict, rule: str, address: str | None = None) -> list[dict]:
    return [f for f in doc["findings"] if f["rule"] == rule and (address is None or f["address"] == address)]


def deployment(name: str = "infer", replicas: int = 2, resource: str = "nvidia.com/gpu", count: int = 1,
               extra: str = "") -> str:
    return DEPLOYMENT.format(name=name, replicas=replicas, resource=resource, count=count, extra=extra)


def test_a_bare_gpu_request_with_nothing_else_is_the_cheapest_gpu_of_any_cloud(tmp_path):
    doc = scan(tmp_path, {"d.yaml": deployment()})
    cost = resource(doc, "Deployment/ml/infer")["cost"]
    assert cost["lower_bound"] is True
    # GCP's attached T4 at $0.35 GPU only is below g4dn.xlarge's $0.526 (the floor before it was on the card)
    assert cost["monthly_usd"] == pytest.approx(round(2 * T4_GCP * HOURS, 2)) == 511.00
    assert cost["reason"].startswith("at least $511.00/month: no node selector, affinity or GPU label")
    assert "T4 at $0.35/GPU-hour (GPU only; the N1 VM it is attached to comes on top)" in cost["reason"]
    assert "among every aws/gcp/azure instance type on the rate card offering nvidia.com/gpu" in cost["reason"]
    assert "and the gcp GPUs billed apart from the VM they are attached to (P100, P4, T4, V100)" in cost["reason"]
    assert "g4dn.xlarge" not in cost["reason"]
    assert "set a nodeSelector or pricing.default_accelerators" in cost["reason"]
    (f,) = findings(doc, "price-lower-bound")
    assert f["severity"] == "warning" and f["category"] == "unpriced" and f["file"] == "d.yaml"
    assert "at least $511.00/month" in f["message"] and "pricing.unplaced_accelerators" in f["fix"]
    assert findings(doc, "unpriced-resource") == []
    s = doc["summary"]
    assert s["monthly_usd"] == 511.00 and s["unpriced_ai_resources"] == 0
    assert s["lower_bound_ai_resources"] == 1 and s["lower_bound_monthly_usd"] == 511.00


def test_gcp_only_terraform_floors_on_gcp_types(tmp_path):
    # a CPU node pool: GCP, and no GPU pool (its type offers no nvidia.com/gpu)
    tf = ('resource "google_container_node_pool" "cpu" {\n  name = "cpu"\n  cluster = "c"\n  node_count = 1\n'
          '  node_config { machine_type = "e2-standard-4" }\n}\n')
    doc = scan(tmp_path, {"main.tf": tf, "d.yaml": deployment()})
    cost = resource(doc, "Deployment/ml/infer")["cost"]
    # an N1 VM with an attached T4 ($0.35 the GPU alone) is cheaper per GPU than g2-standard-4 ($0.707 an L4):
    # the card's machine types alone were no floor over GCP
    assert cost["monthly_usd"] == pytest.approx(round(2 * T4_GCP * HOURS, 2)) == 511.00
    assert "T4 at $0.35/GPU-hour (GPU only; the N1 VM" in cost["reason"] and "every gcp instance type" in cost["reason"]
    assert "g2-standard-4" not in cost["reason"]


def test_aws_only_terraform_floors_on_aws_types(tmp_path):
    tf = 'resource "aws_instance" "web" {\n  instance_type = "t3.micro"\n  ami = "ami-1"\n}\n'
    doc = scan(tmp_path, {"main.tf": tf, "d.yaml": deployment(replicas=1, count=4)})
    cost = resource(doc, "Deployment/ml/infer")["cost"]
    # 4 GPUs per pod fit only on 4+ GPU nodes: g4dn.12xlarge, 4 x T4 at $3.912/h = $0.978 per T4
    per = catalog.lookup("g4dn.12xlarge").on_demand / 4
    assert per == pytest.approx(0.978)
    assert cost["monthly_usd"] == pytest.approx(round(4 * 0.978 * HOURS, 2)) == 2855.76
    assert "g4dn.12xlarge (T4)" in cost["reason"] and "every aws instance type" in cost["reason"]


def test_azure_only_terraform_floors_on_azure_types(tmp_path):
    tf = ('resource "azurerm_kubernetes_cluster" "c" {\n  name = "c"\n  location = "westeurope"\n'
          '  resource_group_name = "rg"\n  dns_prefix = "c"\n}\n')
    doc = scan(tmp_path, {"main.tf": tf, "d.yaml": deployment(replicas=1)})
    cost = resource(doc, "Deployment/ml/infer")["cost"]
    assert cost["monthly_usd"] == pytest.approx(round(T4_AWS * HOURS, 2)) == 383.98
    assert "Standard_NC4as_T4_v3 (T4)" in cost["reason"] and "every azure instance type" in cost["reason"]


def test_a_karpenter_node_class_says_aws(tmp_path):
    nodeclass = "apiVersion: karpenter.k8s.aws/v1\nkind: EC2NodeClass\nmetadata: {name: default}\nspec: {}\n"
    doc = scan(tmp_path, {"nc.yaml": nodeclass, "d.yaml": deployment(resource="nvidia.com/mig-1g.10gb")})
    assert "every aws instance type" in resource(doc, "Deployment/ml/infer")["cost"]["reason"]


KARPENTER_G6E = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: gpu}
spec:
  template:
    spec:
      requirements:
      - {key: karpenter.k8s.aws/instance-family, operator: In, values: [g6e]}
"""

OPEN_NODEPOOL = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: default}
spec:
  template:
    spec:
      requirements:
      - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
"""


def test_the_scans_gpu_pools_are_the_candidates(tmp_path):
    doc = scan(tmp_path, {"np.yaml": KARPENTER_G6E, "d.yaml": deployment()})
    cost = resource(doc, "Deployment/ml/infer")["cost"]
    g6e = [i for i in catalog.load().instances.values() if i.instance_type.startswith("g6e.") and i.on_demand]
    best = min(g6e, key=lambda i: i.on_demand / i.accelerator_count)
    assert best.instance_type == "g6e.xlarge" and best.on_demand == 1.861  # 1 x L40S
    assert cost["lower_bound"] is True
    assert cost["monthly_usd"] == pytest.approx(round(2 * 1.861 * HOURS, 2)) == 2717.06
    assert "g6e.xlarge (L40S)" in cost["reason"] and "GPU node pool offering nvidia.com/gpu (NodePool gpu)" in \
        cost["reason"]


def test_a_pool_that_may_launch_any_type_keeps_the_rate_card_floor(tmp_path):
    doc = scan(tmp_path, {"np.yaml": KARPENTER_G6E, "open.yaml": OPEN_NODEPOOL, "d.yaml": deployment()})
    cost = resource(doc, "Deployment/ml/infer")["cost"]
    # the untainted open NodePool could launch g5g.xlarge: the floor is the AWS rate card's, not g6e's
    assert cost["monthly_usd"] == pytest.approx(round(2 * T4G_AWS * HOURS, 2)) == 613.20
    assert "g5g.xlarge (T4G)" in cost["reason"]
    assert "node pool NodePool default may launch any type" in cost["reason"]


def test_a_pool_whose_taint_it_does_not_tolerate_is_no_candidate(tmp_path):
    tainted = KARPENTER_G6E + "      taints:\n      - {key: team, value: research, effect: NoSchedule}\n"
    doc = scan(tmp_path, {"np.yaml": tainted, "d.yaml": deployment()})
    cost = resource(doc, "Deployment/ml/infer")["cost"]
    assert "g6e" not in cost["reason"] and cost["monthly_usd"] == 613.20  # the (aws) rate card's floor, 2 x g5g


EKS_GROUP = """\
resource "aws_eks_node_group" "gpu" {
  cluster_name    = "c"
  node_group_name = "gpu"
  node_role_arn   = "arn:aws:iam::123456789012:role/n"
  subnet_ids      = ["subnet-1"]
  instance_types  = ["g5.12xlarge"]
  scaling_config {
    desired_size = 2
    max_size     = 2
    min_size     = 2
  }
}
"""


def test_a_floor_from_a_priced_node_group_is_a_share_of_its_capacity(tmp_path):
    doc = scan(tmp_path, {"main.tf": EKS_GROUP, "d.yaml": deployment()})
    work, pool = resource(doc, "Deployment/ml/infer"), resource(doc, "aws_eks_node_group.gpu")
    g5 = catalog.lookup("g5.12xlarge")
    assert work["cost"]["lower_bound"] is True
    assert work["cost"]["monthly_usd"] == pytest.approx(round(2 * g5.on_demand / 4 * HOURS, 2))
    # billed capacity once: 2 GPUs fit in the group's 8, so the group's figure carries them
    assert work["cost"]["attributed_from"] == ["aws_eks_node_group.gpu"]
    s = doc["summary"]
    assert s["monthly_usd"] == pool["cost"]["monthly_usd"] and "lower_bound_ai_resources" not in s


def test_mig_slice_is_floored_among_mig_capable_gpus(tmp_path):
    doc = scan(tmp_path, {"d.yaml": deployment(replicas=7, resource="nvidia.com/mig-1g.10gb")})
    cost = resource(doc, "Deployment/ml/infer")["cost"]
    # 7 pods x 1/7 of an A100 = one A100 at p4d.24xlarge's per-GPU rate (not a T4: T4 has no MIG)
    assert cost["monthly_usd"] == pytest.approx(round(A100_AWS * HOURS, 2), abs=0.01) == 2003.63
    assert "p4d.24xlarge (A100)" in cost["reason"]


def test_neuron_is_floored_on_inferentia_and_trainium(tmp_path):
    doc = scan(tmp_path, {"d.yaml": deployment(replicas=1, resource="aws.amazon.com/neuron")})
    cost = resource(doc, "Deployment/ml/infer")["cost"]
    assert cost["monthly_usd"] == pytest.approx(round(INF1 * HOURS, 2)) == 166.44
    assert "inf1.xlarge (Inferentia)" in cost["reason"]


def test_tpu_is_floored_per_chip(tmp_path):
    doc = scan(tmp_path, {"d.yaml": deployment(replicas=1, resource="google.com/tpu", count=4)})
    cost = resource(doc, "Deployment/ml/infer")["cost"]
    assert cost["lower_bound"] is True
    assert cost["monthly_usd"] == pytest.approx(4 * TPU_V5E * HOURS) == 3504.0
    assert "TPU v5e at $1.20/chip-hour" in cost["reason"]


def test_an_accelerator_no_rate_card_type_offers_stays_unpriced_with_the_reason(tmp_path):
    doc = scan(tmp_path, {"d.yaml": deployment(replicas=1, resource="amd.com/gpu")})
    r = resource(doc, "Deployment/ml/infer")
    assert r["cost"]["monthly_usd"] is None and "lower_bound" not in r["cost"]
    assert "no lower bound: no instance type among every aws/gcp/azure instance type on the rate card offering " \
        "amd.com/gpu (nothing in the scan names a cloud) with an on-demand rate fits amd.com/gpu" in r["cost"]["reason"]
    # the switch off: no word of a lower bound
    doc = scan(tmp_path, {}, "pricing:\n  unplaced_accelerators: unpriced\n")
    assert "lower bound" not in json.dumps(resource(doc, "Deployment/ml/infer"))
    assert len(findings(doc, "unpriced-resource")) == 1 and findings(doc, "price-lower-bound") == []


RAYCLUSTER = """\
apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: rc, namespace: ml}
spec:
  headGroupSpec:
    template:
      spec:
        containers: [{name: head, image: ray}]
  workerGroupSpecs:
  - groupName: gpu
    replicas: 3
    template:
      spec:
        containers:
        - name: w
          image: ray
          resources: {limits: {nvidia.com/gpu: 1}}
"""

JOB = """\
apiVersion: batch/v1
kind: Job
metadata: {name: train, namespace: ml}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: x
        resources: {limits: {nvidia.com/gpu: 1}}
"""


def test_raycluster_workers_and_a_job_with_unknown_duration(tmp_path):
    doc = scan(tmp_path, {"rc.yaml": RAYCLUSTER, "job.yaml": JOB})
    workers = resource(doc, "RayCluster/ml/rc#worker:gpu")["cost"]
    assert workers["lower_bound"] is True and workers["monthly_usd"] == pytest.approx(round(3 * T4_GCP * HOURS, 2))
    job = resource(doc, "Job/ml/train")["cost"]
    # run to completion, no deadline: no monthly figure, but an hourly floor, stated as such
    assert job["monthly_usd"] is None and job["hourly_usd"] == round(T4_GCP, 2) and job["lower_bound"] is True
    assert job["reason"].startswith("at least $0.35/hour")
    assert {f["address"] for f in findings(doc, "price-lower-bound")} == {"RayCluster/ml/rc#worker:gpu",
                                                                          "Job/ml/train"}


def test_what_the_scan_does_know_wins(tmp_path):
    selector = "      nodeSelector: {node.kubernetes.io/instance-type: g5.xlarge}\n"
    doc = scan(tmp_path, {"d.yaml": deployment(extra=selector)})
    assert "lower_bound" not in resource(doc, "Deployment/ml/infer")["cost"]
    doc = scan(tmp_path, {"d.yaml": deployment()}, "pricing:\n  default_accelerators: {nvidia.com/gpu: A10G}\n")
    cost = resource(doc, "Deployment/ml/infer")["cost"]
    assert "lower_bound" not in cost and "assumed" in cost["reason"]


def test_the_switch_turns_it_off_and_is_validated(tmp_path):
    doc = scan(tmp_path, {"d.yaml": deployment()}, "pricing:\n  unplaced_accelerators: unpriced\n")
    cost = resource(doc, "Deployment/ml/infer")["cost"]
    assert cost["monthly_usd"] is None and "lower_bound" not in cost
    assert findings(doc, "price-lower-bound") == [] and len(findings(doc, "unpriced-resource")) == 1
    assert "lower_bound_ai_resources" not in doc["summary"]
    (tmp_path / ".tagguard.yaml").write_text("pricing:\n  unplaced_accelerators: guess\n")
    run = run_cli("scan", str(tmp_path))
    assert run.exit_code == 2 and "unplaced_accelerators" in run.output and "\n" not in run.output.strip()


# --- how totals, budgets and the diff say it ---------------------------------------------------------------

TAGGED = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: ml
  labels: {{business-unit: research, project: p, environment: prod, owner: o, cost-center: cc}}
spec:
  replicas: {replicas}
  template:
    metadata:
      labels: {{business-unit: research, project: p, environment: prod, owner: o, cost-center: cc}}
    spec:
{extra}      containers:
      - name: c
        image: x
        resources: {{limits: {{nvidia.com/gpu: 1}}}}
"""


def budget(usd: float) -> str:
    return f"budgets:\n  - name: research\n    match: {{business-unit: research}}\n    monthly_usd: {usd}\n"


def test_text_and_markdown_totals_say_how_much_is_a_lower_bound(tmp_path):
    (tmp_path / "d.yaml").write_text(deployment(), encoding="utf-8")
    text = run_cli("scan", str(tmp_path)).output
    assert ("$511.00/month, 1,460 GPU-hours/month, of which $511.00/month is a lower bound over 1 resource "
            "(price-lower-bound)") in text
    md = run_cli("scan", str(tmp_path), "-f", "markdown").output
    assert "of which $511.00/month is a lower bound over 1 resource" in md
    html = tmp_path.parent / f"{tmp_path.name}.html"
    run_cli("scan", str(tmp_path), "-f", "html", "-o", str(html))
    assert 'id="kpi-lower-bound">of which $511.00 is a lower bound over 1 resource<' in html.read_text()


def test_showback_totals_carry_the_lower_bound(tmp_path):
    from tagguard.config import Config
    from tagguard.cost.showback import build_showback, render_markdown, render_text
    from tagguard.pipeline import scan as run_scan

    (tmp_path / "d.yaml").write_text(TAGGED.format(name="a", replicas=1, extra=""), encoding="utf-8")
    result = run_scan([str(tmp_path)], Config(raw={}, path=tmp_path / ".tagguard.yaml"))
    sb = build_showback(result, Config(raw={}, path=tmp_path / ".tagguard.yaml"))
    assert sb["totals"]["lower_bound_resources"] == 1 and sb["totals"]["lower_bound_monthly_usd"] == 255.50
    assert "of which $255.50/month is a lower bound over 1 resource" in render_text(sb)
    assert "of which $255.50/month is a lower bound over 1 resource" in render_markdown(sb)


def test_a_lower_bound_over_the_budget_fails_it(tmp_path):
    # 2 replicas x 1 T4 floor = $511.00 > $500: over at the floor, so over (chargeback: an error)
    doc = scan(tmp_path, {"d.yaml": TAGGED.format(name="a", replicas=2, extra="")}, budget(500))
    (b,) = doc["budgets"]
    assert b["over"] is True and b["projected_usd"] == 511.00
    assert b["lower_bound_resources"] == 1 and b["lower_bound_usd"] == 511.00
    (f,) = findings(doc, "over-budget")
    assert f["severity"] == "error" and "$511.00 of the projection is a lower bound" in f["message"]
    assert "overrun is at least this" in f["message"]
    assert findings(doc, "price-lower-bound", "budget:research") == []


def test_a_lower_bound_under_the_budget_does_not_pass_silently(tmp_path):
    doc = scan(tmp_path, {"d.yaml": TAGGED.format(name="a", replicas=2, extra="")}, budget(1000))
    (b,) = doc["budgets"]
    assert b["over"] is False and b["lower_bound_resources"] == 1
    (f,) = findings(doc, "price-lower-bound", "budget:research")
    assert f["severity"] == "warning" and f["file"] == ".tagguard.yaml" and f["line"] == 2
    assert ("projected at least $511.00/month of $1,000.00, of which $511.00 is a lower bound over 1 resource: "
            "within the budget only if those floors hold") in f["message"]
    assert findings(doc, "over-budget") == []
    # priced exactly (a node selector): no budget warning
    exact = "      nodeSelector: {node.kubernetes.io/instance-type: g4dn.xlarge}\n"
    doc = scan(tmp_path, {"d.yaml": TAGGED.format(name="a", replicas=2, extra=exact)}, budget(1000))
    assert findings(doc, "price-lower-bound") == [] and "lower_bound_resources" not in doc["budgets"][0]


def test_a_gpu_hour_budget_is_exact_for_lower_bounds(tmp_path):
    config = "budgets:\n  - name: research\n    match: {business-unit: research}\n    monthly_gpu_hours: 2000\n"
    doc = scan(tmp_path, {"d.yaml": TAGGED.format(name="a", replicas=2, extra="")}, config)
    assert doc["budgets"][0]["projected_gpu_hours"] == 1460 and doc["budgets"][0]["over"] is False
    assert findings(doc, "price-lower-bound", "budget:research") == []  # the GPU count is known, not a floor


@pytest.mark.skipif(__import__("shutil").which("git") is None, reason="git not installed")
def test_the_cost_diff_flags_deltas_from_and_to_a_floor(tmp_path):
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True, text=True)

    k8s = tmp_path / "k8s"
    k8s.mkdir()
    (k8s / "grow.yaml").write_text(deployment("grow", replicas=1), encoding="utf-8")
    (k8s / "gone.yaml").write_text(deployment("gone", replicas=1), encoding="utf-8")
    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    git("config", "commit.gpgsign", "false")
    git("add", "-A")
    git("commit", "-qm", "base")
    (k8s / "grow.yaml").write_text(deployment("grow", replicas=3), encoding="utf-8")
    (k8s / "gone.yaml").unlink()
    (k8s / "new.yaml").write_text(deployment("new", replicas=1), encoding="utf-8")
    run = run_cli("diff", "--base", "HEAD", "k8s", "-f", "json", cwd=tmp_path)
    cd = json.loads(run.output)["cost_diff"]
    one = round(T4_GCP * HOURS, 2)  # $255.50 a month per replica at the T4 floor
    rows = {x["address"]: x for x in cd["resources"]}
    assert rows["Deployment/ml/grow"]["delta_monthly_usd"] == pytest.approx(2 * one)
    assert rows["Deployment/ml/grow"]["lower_bound"] == ["before", "after"]
    assert rows["Deployment/ml/new"]["lower_bound"] == ["after"] and rows["Deployment/ml/new"]["delta_monthly_usd"] \
        == pytest.approx(one)
    assert rows["Deployment/ml/gone"]["lower_bound"] == ["before"] and rows["Deployment/ml/gone"]["delta_monthly_usd"] \
        == pytest.approx(-one)
    assert cd["lower_bound_changes"] == 3 and cd["lower_bound_delta_monthly_usd"] == pytest.approx(2 * one)
    text = run_cli("diff", "--base", "HEAD", "k8s", cwd=tmp_path).output
    assert "+$511.00 of it from 3 changes priced at a lower bound" in text
    md = run_cli("diff", "--base", "HEAD", "k8s", "-f", "markdown", cwd=tmp_path).output
    assert "+$511.00 of it from 3 changes priced at a lower bound" in md


def test_the_report_with_lower_bounds_matches_the_schema_and_reads_back(tmp_path):
    from pathlib import Path

    import jsonschema

    from tagguard.formats.json_format import report_dict
    from tagguard.model import ScanResult

    doc = scan(tmp_path, {"d.yaml": TAGGED.format(name="a", replicas=2, extra="")}, budget(1000))
    schema = json.loads((Path(__file__).resolve().parent.parent / "schemas" / "report.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(doc)
    assert doc["resources"][0]["cost"]["lower_bound"] is True and doc["budgets"][0]["lower_bound_usd"] == 511.00
    back = report_dict(ScanResult.from_json(doc, fail_on="error"))
    assert back["resources"] == doc["resources"] and back["summary"] == doc["summary"]
    assert back["budgets"] == doc["budgets"]
    broken = json.loads(json.dumps(doc))
    broken["resources"][0]["cost"]["lower_bound"] = "yes"
    assert not jsonschema.Draft202012Validator(schema).is_valid(broken)


def test_several_gpu_models_a_matched_pool_allows_are_a_lower_bound_too(tmp_path):
    pool = ("apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: mixed}\nspec:\n  template:\n"
            "    metadata:\n      labels: {team: a}\n    spec:\n"
            "      taints: [{key: nvidia.com/gpu, effect: NoSchedule}]\n"
            "      requirements: [{key: node.kubernetes.io/instance-type, operator: In,\n"
            "                      values: [g5.xlarge, g6.xlarge]}]\n")
    doc = scan(tmp_path, {"np.yaml": pool, "d.yaml": deployment(replicas=1, extra="      nodeSelector: {team: a}\n")})
    cost = resource(doc, "Deployment/ml/infer")["cost"]
    # g5.xlarge: 1 A10G at $1.006; g6.xlarge: 1 L4 at $0.8048 -> the cheaper, a lower bound
    assert catalog.lookup("g6.xlarge").on_demand == 0.8048 and catalog.lookup("g5.xlarge").on_demand == 1.006
    assert cost["lower_bound"] is True and cost["monthly_usd"] == pytest.approx(round(0.8048 * HOURS, 2)) == 587.5
    assert cost["reason"].startswith("at least $587.50/month: it may land on several GPU models (A10G, L4); "
                                     "priced on the cheapest per accelerator among the types with a rate, g6.xlarge")
    assert len(findings(doc, "price-lower-bound")) == 1
    # the switch is about requests nothing places: this one stays a lower bound
    doc = scan(tmp_path, {}, "pricing:\n  unplaced_accelerators: unpriced\n")
    assert resource(doc, "Deployment/ml/infer")["cost"]["lower_bound"] is True


@pytest.mark.skipif(__import__("shutil").which("git") is None, reason="git not installed")
def test_an_approval_threshold_crossed_at_a_floor_says_at_least(tmp_path):
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True, text=True)

    (tmp_path / "k8s").mkdir()
    (tmp_path / ".tagguard.yaml").write_text("approvals:\n  monthly_usd_threshold: 500\n", encoding="utf-8")
    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    git("config", "commit.gpgsign", "false")
    git("add", "-A")
    git("commit", "-qm", "base")
    (tmp_path / "k8s" / "new.yaml").write_text(deployment("new", replicas=2), encoding="utf-8")
    rep = json.loads(run_cli("diff", "--base", "HEAD", "k8s", "-f", "json", cwd=tmp_path).output)
    (f,) = [x for x in rep["findings"] if x["rule"] == "needs-approval"]
    assert "adds at least $511.00/month (threshold $500.00)" in f["message"]


GKE_CPU_POOL = ('resource "google_container_node_pool" "cpu" {\n  name = "cpu"\n  cluster = "c"\n  node_count = 1\n'
                '  node_config { machine_type = "e2-standard-4" }\n}\n')


def test_the_clouds_come_from_its_own_directory_first_then_the_scans_capacity(tmp_path):
    (tmp_path / "aws" / "k8s").mkdir(parents=True)
    (tmp_path / "google").mkdir()
    files = {"aws/main.tf": 'resource "aws_instance" "web" {\n  instance_type = "t3.micro"\n  ami = "a"\n}\n',
             "aws/k8s/d.yaml": deployment("a", replicas=1, count=4), "google/pool.tf": GKE_CPU_POOL,
             "google/d.yaml": deployment("g", replicas=1, count=4),
             "other/d.yaml": deployment("o", replicas=1, count=4)}
    (tmp_path / "other").mkdir()
    doc = scan(tmp_path, files)
    # 4 GPUs per pod: AWS g4dn.12xlarge $0.978/T4, GCP 4 T4 on one N1 VM at $0.35 each GPU only (below
    # g2-standard-48's $1.00041625/L4)
    assert catalog.lookup("g2-standard-48").on_demand / 4 == pytest.approx(1.00041625)
    a, g, o = (resource(doc, f"Deployment/ml/{n}")["cost"] for n in "ago")
    assert "every aws instance type" in a["reason"] and "its directory or above" in a["reason"]
    assert "every gcp instance type" in g["reason"]
    assert g["monthly_usd"] == pytest.approx(round(4 * T4_GCP * HOURS, 2))
    # a directory with no cloud of its own: the capacity the scan declares (an AWS instance, a GKE pool)
    assert "every aws/gcp instance type" in o["reason"] and "node pools and instances the scan declares" in o["reason"]
    assert o["monthly_usd"] == pytest.approx(round(4 * T4_GCP * HOURS, 2))


def test_a_cloud_resource_that_is_not_capacity_elsewhere_does_not_narrow_the_floor(tmp_path):
    # nim-deploy's shape under --scope all: a GCS bucket in one sample, an EKS sample elsewhere
    (tmp_path / "google").mkdir()
    (tmp_path / "aws").mkdir()
    files = {"google/b.tf": 'resource "google_storage_bucket" "b" {\n  name = "b"\n  location = "US"\n}\n',
             "aws/d.yaml": deployment(replicas=1)}
    doc = scan(tmp_path, files, None, "--scope", "all")
    cost = resource(doc, "Deployment/ml/infer")["cost"]
    assert "every aws/gcp/azure instance type" in cost["reason"] and cost["monthly_usd"] == 255.50


def test_many_distinct_requests_cost_one_pass_over_the_rate_card_per_model(tmp_path, monkeypatch):
    """Hostile input: 2,000 pods, each asking for a different MIG profile and count.  Every model's facts are
    worked out once and the rate card's type list once per cloud set, not per pod (it was 130 regex-heavy
    model checks per pod: 20,000 such pods took 77 s in the floor pass under the profiler)."""
    from tagguard.config import Config
    from tagguard.pipeline import scan as run_scan
    from tagguard.pricing import placement

    pods = [f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: ml}}\nspec:\n  containers:\n  - name: c\n"
            f"    image: x\n    resources: {{limits: {{nvidia.com/mig-{1 + i % 7}g.{i}gb: {1 + i % 13}}}}}\n"
            for i in range(2000)]
    (tmp_path / "pods.yaml").write_text("---\n".join(pods), encoding="utf-8")
    calls = []
    real = placement._short
    monkeypatch.setattr(placement, "_short", lambda name: calls.append(name) or real(name))
    monkeypatch.setattr(placement, "_MODEL_FACTS", {})
    result = run_scan([str(tmp_path)], Config(raw={}, path=tmp_path / ".tagguard.yaml"))
    floors = [r for r in result.resources if r.cost is not None and r.cost.lower_bound]
    assert len(floors) == 2000
    assert len(calls) <= 40, len(calls)  # once per accelerator model of the rate card


def test_an_attached_gpu_is_a_candidate_only_up_to_what_one_vm_takes(tmp_path):
    tf = ('resource "google_container_node_pool" "cpu" {\n  name = "cpu"\n  cluster = "c"\n  node_count = 1\n'
          '  node_config { machine_type = "e2-standard-4" }\n}\n')
    doc = scan(tmp_path, {"main.tf": tf, "d.yaml": deployment(replicas=1, count=8)})
    cost = resource(doc, "Deployment/ml/infer")["cost"]
    # 8 GPUs on one node: T4/P4/P100 attach at most 4 to an N1 VM; V100 takes 8 at $2.48 GPU only, above
    # g2-standard-96's 8 x L4 at $8.00333/h = $1.00041625 an L4: the machine type is the floor
    assert catalog.lookup("g2-standard-96").on_demand / 8 == pytest.approx(1.00041625)
    assert cost["monthly_usd"] == pytest.approx(round(8 * 1.00041625 * HOURS, 2))
    assert "g2-standard-96 (L4)" in cost["reason"] and "GPU only" not in cost["reason"]
    assert "attached to (V100)" in cost["reason"]
