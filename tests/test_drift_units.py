"""Inventory pieces moto cannot serve (in-progress SageMaker jobs, Bedrock provisioned throughput),
driven through real botocore clients with ``botocore.stub.Stubber`` and the documented shapes."""
from __future__ import annotations

import datetime as dt

import pytest

boto3 = pytest.importorskip("boto3")
from botocore.stub import Stubber  # noqa: E402

from tagguard.sources.aws import inventory as inv  # noqa: E402

ACCT, REGION = "111122223333", "us-east-1"


def _client(name):
    return boto3.client(name, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")


def test_sagemaker_in_progress_jobs_and_spot_training():
    sm = _client("sagemaker")
    st = Stubber(sm)
    st.add_response("list_endpoints", {"Endpoints": []})
    st.add_response("list_notebook_instances", {"NotebookInstances": []})
    arn = f"arn:aws:sagemaker:{REGION}:{ACCT}:training-job/llm-ft"
    now = dt.datetime(2026, 1, 1)
    st.add_response("list_training_jobs", {"TrainingJobSummaries": [
        {"TrainingJobName": "llm-ft", "TrainingJobArn": arn, "CreationTime": now, "TrainingJobStatus": "InProgress"}]},
        {"StatusEquals": "InProgress"})
    st.add_response("describe_training_job", {
        "TrainingJobName": "llm-ft", "TrainingJobArn": arn, "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Training", "ModelArtifacts": {"S3ModelArtifacts": "s3://b/m.tar.gz"},
        "AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": "x"},
        "ResourceConfig": {"InstanceType": "ml.p4d.24xlarge", "InstanceCount": 2, "VolumeSizeInGB": 100},
        "StoppingCondition": {"MaxRuntimeInSeconds": 36000}, "CreationTime": now, "EnableManagedSpotTraining": True})
    st.add_response("list_tags", {"Tags": [{"Key": "project", "Value": "llm"}, {"Key": "aws:x", "Value": "y"}]},
                    {"ResourceArn": arn})
    parn = f"arn:aws:sagemaker:{REGION}:{ACCT}:processing-job/prep"
    st.add_response("list_processing_jobs", {"ProcessingJobSummaries": [
        {"ProcessingJobName": "prep", "ProcessingJobArn": parn, "CreationTime": now,
         "ProcessingJobStatus": "InProgress"}]},
        {"StatusEquals": "InProgress"})
    st.add_response("describe_processing_job", {
        "ProcessingJobName": "prep", "ProcessingJobArn": parn, "ProcessingJobStatus": "InProgress", "CreationTime": now,
        "AppSpecification": {"ImageUri": "x"}, "RoleArn": f"arn:aws:iam::{ACCT}:role/r",
        "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 3,
                                                  "VolumeSizeInGB": 30}}})
    st.add_response("list_tags", {"Tags": []}, {"ResourceArn": parn})
    with st:
        got = inv.sagemaker_resources(sm, ACCT, REGION)
    st.assert_no_pending_responses()
    train, proc = got
    assert train.type == "aws_sagemaker_training_job" and train.address == arn
    assert train.tags == {"project": "llm"}
    assert ((train.compute.instance_type, train.compute.units, train.compute.pricing_model)
            == ("ml.p4d.24xlarge", 2, "spot"))
    assert train.compute.accelerator == "A100" and train.compute.gpus_per_unit == 8
    assert proc.type == "aws_sagemaker_processing_job" and proc.compute.units == 3 and proc.tags == {}


def test_bedrock_provisioned_throughput():
    br = _client("bedrock")
    st = Stubber(br)
    arn = f"arn:aws:bedrock:{REGION}:{ACCT}:provisioned-model/abc123"
    now = dt.datetime(2026, 1, 1)
    st.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": [{
        "provisionedModelName": "chat-pt", "provisionedModelArn": arn,
        "modelArn": "arn:aws:bedrock:::foundation-model/x",
        "desiredModelArn": "arn:aws:bedrock:::foundation-model/x",
        "foundationModelArn": "arn:aws:bedrock:::foundation-model/x",
        "modelUnits": 2, "desiredModelUnits": 2, "status": "InService", "commitmentDuration": "SixMonths",
        "creationTime": now, "lastModifiedTime": now}]})
    st.add_response("list_tags_for_resource", {"tags": [{"key": "cost-center", "value": "CC-1"}]}, {"resourceARN": arn})
    with st:
        (r,) = inv.bedrock_resources(br, ACCT, REGION)
    assert r.type == "aws_bedrock_provisioned_model_throughput" and r.ai
    assert r.tags == {"cost-center": "CC-1"} and r.compute.units == 2 and r.compute.service == "bedrock"
    assert r.meta["commitment"] == "SixMonths" and r.meta["state"] == "inservice"


def test_arn_types():
    assert inv.arn_type("arn:aws:s3:::my-bucket") == "aws_s3_bucket"
    assert inv.arn_type("arn:aws:ec2:us-east-1:1:volume/vol-1") == "aws_ebs_volume"
    assert inv.arn_type("arn:aws:kinesis:us-east-1:1:stream/s") == "aws_kinesis_stream"
    assert inv.arn_type("arn:aws:sagemaker:us-east-1:1:endpoint/x") == "aws_sagemaker_endpoint"


def test_progress_quiet_in_ci(monkeypatch, capsys):
    from tagguard.sources.aws.progress import Progress, wanted

    monkeypatch.setenv("CI", "true")
    assert wanted() is False
    import io

    buf = io.StringIO()
    p = Progress(4, enabled=True, stream=buf)
    for _ in range(4):
        p.advance("x")
    assert "[" in buf.getvalue() and "4/4" in buf.getvalue()


class _Session:
    """A boto3-like session handing out real botocore clients, each behind a Stubber."""

    def __init__(self):
        self.clients, self.stubs, self.asked = {}, {}, []

    def stub(self, name):
        if name not in self.clients:
            self.clients[name] = _client(name)
            self.stubs[name] = Stubber(self.clients[name])
            self.stubs[name].activate()
        return self.stubs[name]

    def client(self, name, region_name=None, config=None):
        assert region_name == REGION
        self.asked.append(name)
        self.stub(name)
        return self.clients[name]


def test_scan_region_runs_a_collector_per_service_and_reports_each_ones_error():
    """The per-service collector table: a failing service is one error naming it (as before the
    table), the others are still read, progress ticks once per service in table order."""
    assert sorted(s for s, _, _ in inv.COLLECTORS) == sorted([*inv.SERVICES, "tagging"])
    s = _Session()
    s.stub("ec2").add_client_error("describe_instances", "UnauthorizedOperation", "not allowed")
    s.stub("eks").add_response("list_clusters", {"clusters": []})
    s.stub("sagemaker").add_client_error("list_endpoints", "ThrottlingException", "slow down", http_status_code=400)
    arn = f"arn:aws:bedrock:{REGION}:{ACCT}:provisioned-model/p1"
    now = dt.datetime(2026, 1, 1)
    s.stub("bedrock").add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": [{
        "provisionedModelName": "pt", "provisionedModelArn": arn, "modelArn": "arn:aws:bedrock:::foundation-model/x",
        "desiredModelArn": "arn:aws:bedrock:::foundation-model/x",
        "foundationModelArn": "arn:aws:bedrock:::foundation-model/x",
        "modelUnits": 1, "desiredModelUnits": 1, "status": "InService", "creationTime": now, "lastModifiedTime": now}]})
    s.stub("bedrock").add_response("list_tags_for_resource", {"tags": []}, {"resourceARN": arn})
    ticks = []
    got = inv.scan_region(s, ACCT, REGION, scope="ai", services=["bedrock", "sagemaker", "eks", "ec2"], cfg=None,
                          tick=ticks.append)
    assert ticks == ["ec2", "eks", "sagemaker", "bedrock"]
    assert [(e["service"], e["code"], e["account"], e["region"]) for e in got.errors] == [
        ("ec2", "UnauthorizedOperation", ACCT, REGION), ("sagemaker", "ThrottlingException", ACCT, REGION)]
    assert [r.address for r in got.resources] == [arn]
    assert "autoscaling" not in s.asked and "resourcegroupstaggingapi" not in s.asked  # not asked for / not --scope all
    for st in s.stubs.values():
        st.assert_no_pending_responses()
