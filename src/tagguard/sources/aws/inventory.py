"""Live AWS inventory, one function per service, for one (account, region).

Every function is read-only (Describe/List/Get calls only; ``policies/aws-readonly-policy.json``
lists them all and ``tests/test_drift_policy.py`` checks that it does).  Each returns raw
records; ``scan_region`` turns them into ``model.Resource`` records with ARNs as addresses,
terraform-like types, the live tags, and what they run on.

EC2 instances launched by an Auto Scaling group or an EKS managed node group are folded into
that group (one resource, ``units`` = running instances), so a group is priced once; whether
the group's tags reached its instances is stated on the group (``Resource.unpropagated``) for
``rules/propagation.py``.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable
from collections.abc import Iterable

from tagguard.model import Compute, Finding, Resource, Unpropagated

SERVICES = ("ec2", "autoscaling", "eks", "sagemaker", "bedrock")
LIVE_STATES = ["pending", "running", "stopping", "stopped"]
STOPPED = ("stopping", "stopped")
STORAGE_NOTE = ("stopped: no instance-hours are billed, but its EBS volumes are still billed "
                "(storage is not priced by tagguard)")
GPU_AMI_HINTS = ("GPU", "NVIDIA", "NEURON")

# (ARN service, resource type) -> terraform type, for --scope all (Resource Groups Tagging API).
ARN_TYPES = {
    ("ec2", "instance"): "aws_instance", ("ec2", "volume"): "aws_ebs_volume",
    ("ec2", "snapshot"): "aws_ebs_snapshot", ("ec2", "security-group"): "aws_security_group",
    ("ec2", "vpc"): "aws_vpc", ("ec2", "subnet"): "aws_subnet", ("ec2", "launch-template"): "aws_launch_template",
    ("ec2", "natgateway"): "aws_nat_gateway", ("ec2", "image"): "aws_ami", ("s3", ""): "aws_s3_bucket",
    ("lambda", "function"): "aws_lambda_function", ("rds", "db"): "aws_db_instance",
    ("dynamodb", "table"): "aws_dynamodb_table", ("eks", "cluster"): "aws_eks_cluster",
    ("eks", "nodegroup"): "aws_eks_node_group", ("autoscaling", "autoScalingGroup"): "aws_autoscaling_group",
    ("sagemaker", "endpoint"): "aws_sagemaker_endpoint",
    ("sagemaker", "notebook-instance"): "aws_sagemaker_notebook_instance",
    ("sagemaker", "training-job"): "aws_sagemaker_training_job",
    ("sagemaker", "processing-job"): "aws_sagemaker_processing_job",
    ("sagemaker", "model"): "aws_sagemaker_model",
    ("sagemaker", "endpoint-config"): "aws_sagemaker_endpoint_configuration",
    ("bedrock", "provisioned-model"): "aws_bedrock_provisioned_model_throughput",
    ("elasticloadbalancing", "loadbalancer"): "aws_lb", ("sqs", ""): "aws_sqs_queue", ("sns", ""): "aws_sns_topic",
    ("ecr", "repository"): "aws_ecr_repository", ("efs", "file-system"): "aws_efs_file_system",
    ("fsx", "file-system"): "aws_fsx_lustre_file_system", ("logs", "log-group"): "aws_cloudwatch_log_group",
}


@dataclass
class RegionScan:
    resources: list[Resource] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


# --- GPU detection ---------------------------------------------------------------

_TYPE_LOCK = threading.Lock()
_TYPE_INFO: dict[str, tuple[str | None, float | None] | None] = {}


def _catalog_info(itype: str):
    from tagguard.pricing import catalog

    return catalog.accelerator_info(itype, "aws")


def gpu_info(itype: str | None) -> tuple[str | None, float | None] | None:
    """(gpu_model, gpus per instance) for an accelerated type, from the rate card or the types
    already read from ``describe_instance_types``; ``None`` for a plain type."""
    if not itype:
        return None
    with _TYPE_LOCK:
        if itype in _TYPE_INFO:
            return _TYPE_INFO[itype]
    return _catalog_info(itype)


def learn_types(ec2, types: Iterable[str]) -> None:
    """Ask EC2 about types the rate card does not know (or whose GPU count it lacks); cached per process."""
    from tagguard.pricing.gpus import short_gpu_model

    todo = []
    with _TYPE_LOCK:
        for t in sorted(set(types)):
            if t in _TYPE_INFO or t.startswith("ml."):
                continue
            info = _catalog_info(t)
            if info is not None and info[1] is not None:
                _TYPE_INFO[t] = info
            else:
                todo.append(t)
    for i in range(0, len(todo), 100):
        batch = todo[i:i + 100]
        resp = ec2.describe_instance_types(InstanceTypes=batch)
        found: dict[str, tuple[str | None, float] | None] = {}
        for it in resp.get("InstanceTypes", []):
            name = it.get("InstanceType")
            devices = ((it.get("GpuInfo") or {}).get("Gpus") or []) \
                + ((it.get("InferenceAcceleratorInfo") or {}).get("Accelerators") or []) \
                + ((it.get("NeuronInfo") or {}).get("NeuronDevices") or [])
            if devices:
                d = devices[0]
                model = short_gpu_model(d.get("Name")) or d.get("Name")
                found[name] = (model, float(sum(x.get("Count", 0) or 0 for x in devices)))
            else:
                found[name] = None
        with _TYPE_LOCK:
            for t in batch:
                if t in found:
                    _TYPE_INFO[t] = found[t] if found[t] is not None else _catalog_info(t)
                else:
                    _TYPE_INFO[t] = _catalog_info(t)


# --- helpers ---------------------------------------------------------------------

def split_tags(items: Iterable[dict[str, Any]] | None, key: str = "Key", value: str = "Value"):
    """(user tags, aws:* system tags) from AWS's list-of-pairs form."""
    user: dict[str, str] = {}
    system: dict[str, str] = {}
    for t in items or ():
        k = t.get(key)
        if k is None:
            continue
        (system if str(k).startswith("aws:") else user)[str(k)] = "" if t.get(value) is None else str(t.get(value))
    return user, system


def _split_map(tags: dict[str, str] | None):
    user = {k: str(v) for k, v in (tags or {}).items() if not str(k).startswith("aws:")}
    system = {k: str(v) for k, v in (tags or {}).items() if str(k).startswith("aws:")}
    return user, system


def _resource(arn: str, rtype: str, account: str, region: str, tags: dict[str, str], *, ai: bool,
              compute: Compute | None, state: str | None = None, **meta: Any) -> Resource:
    m: dict[str, Any] = {"account": account, "region": region, "arn": arn}
    if state is not None:
        m["state"] = state
    m.update({k: v for k, v in meta.items() if v is not None and v != {} and v != []})
    return Resource(address=arn, type=rtype, source="aws", ai=ai, tags=dict(tags), tag_style="aws",
                    compute=compute, meta=m,
                    tag_fix_hint="the resource's live tags (and the IaC that creates it, so the next apply keeps them)")


def _compute(itype: str | None, units: int | None, service: str, region: str, *,
             spot_units: int = 0, info=None, stopped: bool = False) -> Compute:
    info = info if info is not None else gpu_info(itype)
    if units and spot_units >= units:
        model, spot = "spot", None
    elif spot_units:
        model, spot = "mixed", spot_units
    else:
        model, spot = "on_demand", None
    c = Compute(instance_type=itype, accelerator=info[0] if info else None,
                gpus_per_unit=info[1] if info else None, units=units, pricing_model=model,
                provider="aws", service=service, region=region, spot_units=spot)
    if stopped:
        c.hours_per_month = 0.0
        c.notes.append(STORAGE_NOTE)
    return c


def _ec2_arn(region: str, account: str, iid: str) -> str:
    return f"arn:aws:ec2:{region}:{account}:instance/{iid}"


# --- EC2 -------------------------------------------------------------------------

def ec2_instances(ec2) -> list[dict[str, Any]]:
    out = []
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "instance-state-name", "Values": LIVE_STATES}], PaginationConfig={"PageSize": 1000})
    for page in pages:
        for res in page.get("Reservations", []):
            out.extend(res.get("Instances", []))
    return out


def instance_resource(inst: dict[str, Any], account: str, region: str) -> Resource:
    tags, system = split_tags(inst.get("Tags"))
    itype = inst.get("InstanceType")
    info = gpu_info(itype)
    state = (inst.get("State") or {}).get("Name")
    spot = inst.get("InstanceLifecycle") == "spot"
    stopped = state in STOPPED
    vols = [m.get("Ebs", {}).get("VolumeId") for m in inst.get("BlockDeviceMappings") or [] if m.get("Ebs")]
    return _resource(_ec2_arn(region, account, inst["InstanceId"]), "aws_instance", account, region, tags,
                     ai=info is not None,
                     compute=_compute(itype, 1, "ec2", region, spot_units=1 if spot else 0, info=info, stopped=stopped),
                     state="stopped" if stopped else "running", instance_id=inst["InstanceId"],
                     system_tags=system, ebs_volumes=[v for v in vols if v],
                     launch_time=str(inst["LaunchTime"]) if inst.get("LaunchTime") else None,
                     lifecycle=inst.get("InstanceLifecycle"))


# --- Auto Scaling ----------------------------------------------------------------

def autoscaling_groups(asg) -> list[dict[str, Any]]:
    out = []
    for page in asg.get_paginator("describe_auto_scaling_groups").paginate():
        out.extend(page.get("AutoScalingGroups", []))
    return out


def _launch_type(group: dict[str, Any], asg_client, ec2_client) -> str | None:
    for inst in group.get("Instances") or []:
        if inst.get("InstanceType"):
            return inst["InstanceType"]
    mip = group.get("MixedInstancesPolicy") or {}
    lt_spec = (mip.get("LaunchTemplate") or {})
    for o in lt_spec.get("Overrides") or []:
        if o.get("InstanceType"):
            return o["InstanceType"]
    lt = group.get("LaunchTemplate") or lt_spec.get("LaunchTemplateSpecification")
    if lt:
        kwargs = {"Versions": [str(lt.get("Version") or "$Default")]}
        if lt.get("LaunchTemplateId"):
            kwargs["LaunchTemplateId"] = lt["LaunchTemplateId"]
        else:
            kwargs["LaunchTemplateName"] = lt.get("LaunchTemplateName")
        versions = ec2_client.describe_launch_template_versions(**kwargs).get("LaunchTemplateVersions", [])
        if versions:
            return (versions[0].get("LaunchTemplateData") or {}).get("InstanceType")
    if group.get("LaunchConfigurationName"):
        lcs = asg_client.describe_launch_configurations(
            LaunchConfigurationNames=[group["LaunchConfigurationName"]]).get("LaunchConfigurations", [])
        if lcs:
            return lcs[0].get("InstanceType")
    return None


# --- EKS -------------------------------------------------------------------------

def eks_nodegroups(eks) -> list[dict[str, Any]]:
    out = []
    for page in eks.get_paginator("list_clusters").paginate():
        for cluster in page.get("clusters", []):
            for ng_page in eks.get_paginator("list_nodegroups").paginate(clusterName=cluster):
                for name in ng_page.get("nodegroups", []):
                    ng = eks.describe_nodegroup(clusterName=cluster, nodegroupName=name)["nodegroup"]
                    out.append(ng)
    return out


# --- SageMaker -------------------------------------------------------------------

def _sm_tags(sm, arn: str) -> dict[str, str]:
    items: list[dict[str, Any]] = []
    for page in sm.get_paginator("list_tags").paginate(ResourceArn=arn):
        items.extend(page.get("Tags", []))
    return split_tags(items)[0]


def sagemaker_resources(sm, account: str, region: str) -> list[Resource]:
    out: list[Resource] = []
    for page in sm.get_paginator("list_endpoints").paginate():
        for ep in page.get("Endpoints", []):
            d = sm.describe_endpoint(EndpointName=ep["EndpointName"])
            cfg = sm.describe_endpoint_config(EndpointConfigName=d["EndpointConfigName"])
            current = {v.get("VariantName"): v for v in d.get("ProductionVariants") or []}
            arn = d["EndpointArn"]
            tags = _sm_tags(sm, arn)
            variants = cfg.get("ProductionVariants") or []
            for i, v in enumerate(variants):
                itype = v.get("InstanceType")
                cur = current.get(v.get("VariantName")) or {}
                units = cur.get("CurrentInstanceCount", v.get("InitialInstanceCount"))
                compute = _compute(itype, units, "sagemaker", region) if itype else Compute(
                    units=None, provider="aws", service="sagemaker", region=region,
                    notes=["serverless variant: billed per request, not per instance-hour"])
                address = arn if i == 0 else f"{arn}#variant/{v.get('VariantName')}"
                out.append(_resource(address, "aws_sagemaker_endpoint", account, region, tags, ai=True,
                                     compute=compute, state="running" if d.get("EndpointStatus") == "InService"
                                     else str(d.get("EndpointStatus", "")).lower(),
                                     name=ep["EndpointName"], endpoint_config=d["EndpointConfigName"],
                                     variant=v.get("VariantName")))
    for page in sm.get_paginator("list_notebook_instances").paginate():
        for nb in page.get("NotebookInstances", []):
            status = nb.get("NotebookInstanceStatus")
            stopped = status in ("Stopped", "Stopping")
            arn = nb["NotebookInstanceArn"]
            c = _compute(nb.get("InstanceType"), 1, "sagemaker", region)
            if stopped:
                c.hours_per_month = 0.0
                c.notes.append("stopped: no instance-hours are billed, but its ML storage volume is still billed")
            out.append(_resource(arn, "aws_sagemaker_notebook_instance", account, region, _sm_tags(sm, arn),
                                 ai=True, compute=c, state="stopped" if stopped else "running",
                                 name=nb.get("NotebookInstanceName")))
    for page in sm.get_paginator("list_training_jobs").paginate(StatusEquals="InProgress"):
        for job in page.get("TrainingJobSummaries", []):
            d = sm.describe_training_job(TrainingJobName=job["TrainingJobName"])
            rc = d.get("ResourceConfig") or {}
            spot = bool(d.get("EnableManagedSpotTraining"))
            units = rc.get("InstanceCount")
            c = _compute(rc.get("InstanceType"), units, "sagemaker", region, spot_units=(units or 1) if spot else 0)
            max_s = (d.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
            if max_s:
                c.notes.append(f"in progress; stopping condition allows up to {max_s / 3600:g} h per run "
                               "(priced as running all month)")
            arn = d["TrainingJobArn"]
            out.append(_resource(arn, "aws_sagemaker_training_job", account, region, _sm_tags(sm, arn), ai=True,
                                 compute=c, state="running", name=job["TrainingJobName"]))
    for page in sm.get_paginator("list_processing_jobs").paginate(StatusEquals="InProgress"):
        for job in page.get("ProcessingJobSummaries", []):
            d = sm.describe_processing_job(ProcessingJobName=job["ProcessingJobName"])
            cc = ((d.get("ProcessingResources") or {}).get("ClusterConfig") or {})
            arn = d["ProcessingJobArn"]
            out.append(_resource(arn, "aws_sagemaker_processing_job", account, region, _sm_tags(sm, arn), ai=True,
                                 compute=_compute(cc.get("InstanceType"), cc.get("InstanceCount"), "sagemaker", region),
                                 state="running", name=job["ProcessingJobName"]))
    return out


# --- Bedrock ---------------------------------------------------------------------

def bedrock_resources(br, account: str, region: str) -> list[Resource]:
    out = []
    for page in br.get_paginator("list_provisioned_model_throughputs").paginate():
        for pm in page.get("provisionedModelSummaries", []):
            arn = pm["provisionedModelArn"]
            items = br.list_tags_for_resource(resourceARN=arn).get("tags", [])
            tags, system = split_tags(items, "key", "value")
            units = pm.get("modelUnits")
            c = Compute(instance_type=None, units=units, provider="aws", service="bedrock", region=region,
                        notes=[f"{units} model unit(s) of {pm.get('foundationModelArn') or pm.get('modelArn')}; "
                               f"commitment {pm.get('commitmentDuration') or 'none (hourly)'}"])
            out.append(_resource(arn, "aws_bedrock_provisioned_model_throughput", account, region, tags, ai=True,
                                 compute=c, state=str(pm.get("status", "")).lower() or None,
                                 name=pm.get("provisionedModelName"), model=pm.get("modelArn"),
                                 commitment=pm.get("commitmentDuration"), system_tags=system))
    return out


# --- Resource Groups Tagging API (--scope all) -----------------------------------

def arn_type(arn: str) -> str:
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return "aws_unknown"
    service, rest = parts[2], parts[5]
    rtype = rest.split("/", 1)[0] if "/" in rest else (rest.split(":", 1)[0] if ":" in rest else "")
    if service in ("s3", "sqs", "sns"):
        rtype = ""
    known = ARN_TYPES.get((service, rtype))
    if known:
        return known
    return "aws_" + "_".join(p for p in (service, rtype) if p).replace("-", "_").lower()


def tagged_resources(tagging, account: str, region: str, seen: set[str]) -> list[Resource]:
    out = []
    for page in tagging.get_paginator("get_resources").paginate(ResourcesPerPage=100):
        for item in page.get("ResourceTagMappingList", []):
            arn = item["ResourceARN"]
            if arn in seen:
                continue
            tags, system = split_tags(item.get("Tags"))
            out.append(_resource(arn, arn_type(arn), account, region, tags, ai=False, compute=None,
                                 system_tags=system))
    return out


# --- one (account, region) -------------------------------------------------------

@dataclass
class _Region:
    """One (account, region) being read: its clients, what each service returned, and its errors."""

    session: Any
    account: str
    region: str
    scope: str
    services: list[str]
    cfg: Any
    tick: Callable[[str], None]
    out: RegionScan = field(default_factory=RegionScan)
    ec2: Any = None  # shared by the EC2, Auto Scaling and EKS readers
    instances: list[dict[str, Any]] = field(default_factory=list)
    nodegroups: list[dict[str, Any]] = field(default_factory=list)
    asgs: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)  # (group, launch type)
    services_resources: list[Resource] = field(default_factory=list)  # SageMaker, Bedrock
    tagged: list[Resource] = field(default_factory=list)  # --scope all
    claimed: set[str] = field(default_factory=set)  # instance ids folded into a group
    _folded: list[Resource] | None = None

    def client(self, name: str) -> Any:
        return self.session.client(name, region_name=self.region, config=self.cfg)

    def collect(self, service: str, collector: Callable[[_Region], None]) -> None:
        """Run one service's collector; its error is this region's error for that service (a
        service that does not exist in the region is no error), and the other services go on."""
        from tagguard.sources.aws.accounts import error_info

        try:
            collector(self)
        except Exception as exc:
            if not _unavailable(exc):
                self.out.errors.append({"account": self.account, "region": self.region, "service": service,
                                        **error_info(exc)})
        finally:
            self.tick(service)

    def folded(self) -> list[Resource]:
        """EKS node groups, Auto Scaling groups (each with the instances it launched) and the
        instances of neither, in that order; built once, after the EC2/EKS/Auto Scaling reads."""
        if self._folded is None:
            ng_asgs: dict[str, int] = {}  # ASG name -> index of the node group that owns it
            for idx, ng in enumerate(self.nodegroups):
                for a in ((ng.get("resources") or {}).get("autoScalingGroups") or []):
                    if a.get("name"):
                        ng_asgs[a["name"]] = idx
            groups = _node_groups(self, ng_asgs) + _auto_scaling_groups(self, ng_asgs)
            out = []
            for res, members, propagates in groups:
                out.append(res)
                fact = propagation_fact(res, members, propagates) if res.ai else None
                if fact is not None:
                    res.unpropagated.append(fact)
            for inst in self.instances:
                if inst["InstanceId"] not in self.claimed:
                    res = instance_resource(inst, self.account, self.region)
                    if res.ai or self.scope == "all":
                        out.append(res)
            self._folded = out
        return self._folded

    def members_where(self, pred: Callable[[dict[str, Any], dict[str, str]], bool]) -> list[dict[str, Any]]:
        """Unclaimed instances whose tags (all, and the aws:* ones) satisfy ``pred``."""
        got = []
        for inst in self.instances:
            _, system = split_tags(inst.get("Tags"))
            tags = {t.get("Key"): t.get("Value") for t in inst.get("Tags") or []}
            if pred(tags, system) and inst["InstanceId"] not in self.claimed:
                got.append(inst)
        return got


# One collector per service: it reads with that service's client and keeps what it read on the
# region.  Errors are per collector (``_Region.collect``).

def _collect_ec2(r: _Region) -> None:
    got = ec2_instances(r.ec2)
    learn_types(r.ec2, [t for t in (i.get("InstanceType") for i in got) if t])
    r.instances = got


def _in_asg(group: str | None, _tags: dict[str, Any], system: dict[str, str]) -> bool:
    """An instance launched by the Auto Scaling group ``group`` (its ``aws:autoscaling:groupName``)."""
    return system.get("aws:autoscaling:groupName") == group


def _collect_eks(r: _Region) -> None:
    r.nodegroups = eks_nodegroups(r.client("eks"))


def _collect_autoscaling(r: _Region) -> None:
    asg_client = r.client("autoscaling")
    r.asgs = [(g, _launch_type(g, asg_client, r.ec2)) for g in autoscaling_groups(asg_client)]


def _collect_sagemaker(r: _Region) -> None:
    r.services_resources += sagemaker_resources(r.client("sagemaker"), r.account, r.region)


def _collect_bedrock(r: _Region) -> None:
    r.services_resources += bedrock_resources(r.client("bedrock"), r.account, r.region)


def _collect_tagged(r: _Region) -> None:
    """Everything else that carries tags (``--scope all``), skipping what the others reported."""
    seen = {res.address for res in r.folded() + r.services_resources} | {
        _ec2_arn(r.region, r.account, i) for i in r.claimed}
    r.tagged = tagged_resources(r.client("resourcegroupstaggingapi"), r.account, r.region, seen)


# (service, collector, only with --scope all), in the order they run (and report progress).
COLLECTORS: tuple[tuple[str, Callable[[_Region], None], bool], ...] = (
    ("ec2", _collect_ec2, False),
    ("eks", _collect_eks, False),
    ("autoscaling", _collect_autoscaling, False),
    ("sagemaker", _collect_sagemaker, False),
    ("bedrock", _collect_bedrock, False),
    ("tagging", _collect_tagged, True),
)


def scan_region(session, account: str, region: str, *, scope: str, services: Iterable[str],
                cfg, tick: Callable[[str], None] | None = None) -> RegionScan:
    """Every collector of ``services`` for one (account, region): the resources (groups, lone
    instances, SageMaker, Bedrock, then the rest for ``--scope all``) and an error per failed service."""
    r = _Region(session=session, account=account, region=region, scope=scope, services=list(services), cfg=cfg,
                tick=tick or (lambda _s: None))
    if {"ec2", "autoscaling", "eks"} & set(r.services):
        r.ec2 = r.client("ec2")
    for service, collector, all_only in COLLECTORS:
        if service in r.services and (scope == "all" or not all_only):
            r.collect(service, collector)
    r.out.resources = r.folded() + r.services_resources + r.tagged
    return r.out


def _node_groups(r: _Region, ng_asgs: dict[str, int]) -> list[tuple[Resource, list[dict[str, Any]], dict[str, bool]]]:
    """EKS managed node groups: (resource, member instances, key -> propagates); EKS copies no tag."""
    out = []
    for idx, ng in enumerate(r.nodegroups):
        name, cluster = ng.get("nodegroupName"), ng.get("clusterName")
        asg_names = {n for n, i in ng_asgs.items() if i == idx}

        def member(t: dict[str, Any], s: dict[str, str], name=name, cluster=cluster, asg_names=asg_names) -> bool:
            return (t.get("eks:nodegroup-name") == name and t.get("eks:cluster-name", cluster) == cluster) \
                or s.get("aws:autoscaling:groupName") in asg_names

        members = r.members_where(member)
        r.claimed.update(m["InstanceId"] for m in members)
        itypes = ng.get("instanceTypes") or [m.get("InstanceType") for m in members][:1]
        itype = (itypes or [None])[0]
        live = [m for m in members if (m.get("State") or {}).get("Name") not in STOPPED]
        sc = ng.get("scalingConfig") or {}
        units = len(live) if members else sc.get("desiredSize")
        spot_units = sum(1 for m in live if m.get("InstanceLifecycle") == "spot") if members else (
            units or 0) if ng.get("capacityType") == "SPOT" else 0
        info = gpu_info(itype)
        ai = info is not None or any(h in str(ng.get("amiType", "")).upper() for h in GPU_AMI_HINTS)
        if not ai and r.scope != "all":
            continue
        tags, system = _split_map(ng.get("tags"))
        res = _resource(ng["nodegroupArn"], "aws_eks_node_group", r.account, r.region, tags, ai=ai,
                        compute=_compute(itype, units, "eks", r.region, spot_units=spot_units or 0, info=info),
                        state="running" if units else "stopped", name=name, cluster=cluster,
                        capacity_type=ng.get("capacityType"), instance_types=ng.get("instanceTypes"),
                        desired_size=sc.get("desiredSize"), instances=[m["InstanceId"] for m in members],
                        system_tags=system)
        out.append((res, members, {k: False for k in tags}))
    return out


def _auto_scaling_groups(r: _Region,
                         ng_asgs: dict[str, int]) -> list[tuple[Resource, list[dict[str, Any]], dict[str, bool]]]:
    """Auto Scaling groups not owned by a node group: (resource, member instances, key -> PropagateAtLaunch)."""
    by_id = {i["InstanceId"]: i for i in r.instances}
    out = []
    for g, itype in r.asgs:
        if g.get("AutoScalingGroupName") in ng_asgs:
            continue  # part of an EKS node group: reported there
        tags, system = split_tags(g.get("Tags"))
        propagates = {t["Key"]: bool(t.get("PropagateAtLaunch")) for t in g.get("Tags") or []
                      if not str(t.get("Key", "")).startswith("aws:")}
        ids = [i.get("InstanceId") for i in g.get("Instances") or []]
        members = [by_id[i] for i in ids if i in by_id and i not in r.claimed]
        if not members:
            members = r.members_where(partial(_in_asg, g.get("AutoScalingGroupName")))
        r.claimed.update(m["InstanceId"] for m in members)
        live = [m for m in members if (m.get("State") or {}).get("Name") not in STOPPED]
        units = len(live) if members else (len(ids) or g.get("DesiredCapacity"))
        spot_units = sum(1 for m in live if m.get("InstanceLifecycle") == "spot")
        info = gpu_info(itype)
        if info is None and itype and r.ec2 is not None:
            try:
                learn_types(r.ec2, [itype])
                info = gpu_info(itype)
            except Exception:
                pass
        if info is None and r.scope != "all":
            continue
        res = _resource(g["AutoScalingGroupARN"], "aws_autoscaling_group", r.account, r.region, tags,
                        ai=info is not None,
                        compute=_compute(itype, units, "ec2", r.region, spot_units=spot_units, info=info),
                        state="running" if units else "stopped", name=g.get("AutoScalingGroupName"),
                        desired_capacity=g.get("DesiredCapacity"), instances=[m["InstanceId"] for m in members],
                        system_tags=system)
        out.append((res, members, propagates))
    return out


def propagation_fact(group: Resource, members: list[dict[str, Any]],
                     propagates: dict[str, bool]) -> Unpropagated | None:
    """Which of the group's tags did not reach the instances that are billed (or, with no instance yet,
    will not: PropagateAtLaunch=false).  A fact; rules/propagation.py picks the keys the taxonomy names."""
    is_ng = group.type == "aws_eks_node_group"
    member_tags = [(m["InstanceId"], {t.get("Key"): t.get("Value") for t in m.get("Tags") or []}) for m in members]
    keys: dict[str, str] = {}
    detail: dict[str, Any] = {}
    for key, value in group.tags.items():
        missing = [iid for iid, tags in member_tags if tags.get(key) != value]
        static = not is_ng and not propagates.get(key, False)
        if not missing and not (static and not members):
            continue
        keys[key] = value
        detail[key] = {"missing": missing, "members": len(members), "static": static}
    return Unpropagated(via="aws", keys=keys, detail=detail) if keys else None


def _unavailable(exc: BaseException) -> bool:
    name = type(exc).__name__
    if name in ("EndpointConnectionError", "UnknownEndpointError", "UnknownServiceError"):
        return True
    return False
