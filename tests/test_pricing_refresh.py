"""`pricing refresh` with botocore's Stubber (moto has no pricing service), the documented
Price List item shape (pricing/NOTES.md §5) and spot history shape (§7)."""
from __future__ import annotations

import datetime as dt
import json

import pytest

boto3 = pytest.importorskip("boto3")
from botocore.stub import ANY, Stubber  # noqa: E402


def item(itype, od, r1=None, upfront3=None, r3=None):
    sku = "SKU" + itype.replace(".", "")
    terms = {"OnDemand": {f"{sku}.JRTCKXETXF": {"offerTermCode": "JRTCKXETXF", "sku": sku, "termAttributes": {},
             "priceDimensions": {f"{sku}.JRTCKXETXF.6YS6EN2CT7": {"unit": "Hrs", "pricePerUnit": {"USD": f"{od:.10f}"},
                                                                   "description": "on demand"}}}},
             "Reserved": {}}
    if r1 is not None:
        terms["Reserved"][f"{sku}.4NA7Y494T4"] = {
            "termAttributes": {"LeaseContractLength": "1yr", "OfferingClass": "standard",
                               "PurchaseOption": "No Upfront"},
            "priceDimensions": {"d": {"unit": "Hrs", "pricePerUnit": {"USD": str(r1)}}},
        }
    if r3 is not None:
        terms["Reserved"][f"{sku}.38NPMPTW36"] = {
            "termAttributes": {"LeaseContractLength": "3yr", "OfferingClass": "standard",
                               "PurchaseOption": "Partial Upfront"},
            "priceDimensions": {"u": {"unit": "Quantity", "pricePerUnit": {"USD": str(upfront3)}},
                                "h": {"unit": "Hrs", "pricePerUnit": {"USD": str(r3)}}},
        }
    return json.dumps({"product": {"productFamily": "Compute Instance", "sku": sku,
                                   "attributes": {"instanceType": itype, "regionCode": "us-east-1"}},
                       "serviceCode": "AmazonEC2", "publicationDate": "2026-11-01T00:00:00Z", "version": "1",
                       "terms": terms})


def test_refresh_writes_atomically_and_overlays_the_rate_card(tmp_path):
    from tagguard.pricing import catalog, refresh

    now = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)
    pricing = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    ec2 = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    ps, es = Stubber(pricing), Stubber(ec2)
    expected = {"ServiceCode": "AmazonEC2", "Filters": ANY, "FormatVersion": "aws_v1", "MaxResults": 100}
    ps.add_response("get_products", {"PriceList": [item("g5.xlarge", 0.95, r1=0.6, upfront3=8760, r3=0.2)],
                                     "NextToken": "t2", "FormatVersion": "aws_v1"}, expected)
    ps.add_response("get_products", {"PriceList": [], "FormatVersion": "aws_v1"}, {**expected, "NextToken": "t2"})
    ps.add_response("get_products", {"PriceList": [], "FormatVersion": "aws_v1"}, expected)  # p5: no SKU
    es.add_response("describe_spot_price_history", {"SpotPriceHistory": [
        {"AvailabilityZone": "us-east-1a", "InstanceType": "g5.xlarge", "ProductDescription": "Linux/UNIX",
         "SpotPrice": "0.40", "Timestamp": now},
        {"AvailabilityZone": "us-east-1b", "InstanceType": "g5.xlarge", "ProductDescription": "Linux/UNIX",
         "SpotPrice": "0.30", "Timestamp": now},
        {"AvailabilityZone": "us-east-1c", "InstanceType": "g5.xlarge", "ProductDescription": "Linux/UNIX",
         "SpotPrice": "0.50", "Timestamp": now}]},
        {"InstanceTypes": ["g5.xlarge", "p5.48xlarge"], "ProductDescriptions": ["Linux/UNIX"], "StartTime": now,
         "MaxResults": 1000})
    out = tmp_path / "cache" / "ratecard.local.json"
    with ps, es:
        summary = refresh.refresh(["us-east-1"], types=["g5.xlarge", "p5.48xlarge"], output=out,
                                  pricing_client=ps.client, ec2_clients={"us-east-1": es.client}, now=now)
    ps.assert_no_pending_responses()
    assert summary["not_found"] == ["p5.48xlarge@us-east-1"]
    assert [p.name for p in out.parent.iterdir()] == ["ratecard.local.json"]  # no temp file left behind
    card = json.loads(out.read_text())
    rates = card["instances"]["aws/g5.xlarge"]["rates"]["us-east-1"]
    assert rates["on_demand"] == 0.95 and rates["spot"] == 0.40 and rates["spot_min"] == 0.30 and rates["spot_azs"] == 3
    assert rates["reserved_1yr"] == 0.6 and rates["reserved_3yr"] == pytest.approx(0.2 + 8760 / (8760 * 3))
    assert card["sources"]["aws-price-list-2026-11-26"]["date"] == "2026-11-26"
    # the overlay: a new card that prices with (and cites) the refreshed figures; the shipped card
    # and every other card stay as they were (nothing to put back afterwards)
    shipped = catalog.load()
    before = shipped.lookup("g5.xlarge", "aws")
    card = refresh.local_ratecard(path=out)
    assert card is not shipped and refresh.local_ratecard(path=out) is card  # read once
    info = card.lookup("g5.xlarge", "aws")
    assert info.on_demand == 0.95 and info.on_demand_source == "aws-price-list-2026-11-26" and info.spot == 0.40
    assert catalog.lookup("g5.xlarge", "aws") is before and before.on_demand != 0.95
    assert "aws-price-list-2026-11-26" not in shipped.sources
    from tagguard.model import Compute, Resource
    from tagguard.pricing.engine import Pricer

    r = Resource(address="x", type="aws_instance", source="aws", ai=True,
                 compute=Compute(instance_type="g5.xlarge", units=1, provider="aws", region="us-east-1"))
    cost = Pricer(card).price(r)
    assert cost.monthly_usd == pytest.approx(0.95 * 730) and cost.rate_source == "aws-price-list-2026-11-26"
    assert Pricer(shipped).price(r).rate_source != "aws-price-list-2026-11-26"


def test_make_pricer_prices_with_the_local_card(tmp_path, monkeypatch):
    """The one set-up (scan, plan deltas, spot hints) picks up $TAGGUARD_LOCAL_RATECARD."""
    from tagguard.config import Config
    from tagguard.model import Compute, Resource
    from tagguard.pricing import catalog
    from tagguard.pricing.engine import make_pricer

    info = catalog.lookup("g5.xlarge", "aws")
    local = tmp_path / "local.json"
    local.write_text(json.dumps({"kind": "tagguard-local-ratecard", "primary_region": "us-east-1",
                                 "sources": {"mine": {"url": "https://example.invalid", "date": "2026-12-01"}},
                                 "instances": {info.key: {"rates": {"us-east-1": {"on_demand": 0.5,
                                                                                   "on_demand_source": "mine"}}}}}))
    r = Resource(address="x", type="aws_instance", source="aws", ai=True,
                 compute=Compute(instance_type="g5.xlarge", units=2, provider="aws"))
    monkeypatch.setenv("TAGGUARD_LOCAL_RATECARD", str(tmp_path / "absent.json"))
    assert make_pricer(Config()).pricer.price(r).rate_source == info.on_demand_source
    monkeypatch.setenv("TAGGUARD_LOCAL_RATECARD", str(local))
    cost = make_pricer(Config()).pricer.price(r)
    assert cost.hourly_usd == pytest.approx(1.0) and cost.rate_source == "mine" and cost.rate_date == "2026-12-01"
    local.write_text('{"kind": "other"}')
    with pytest.raises(ValueError, match="not a tagguard local rate card"):
        make_pricer(Config())


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    from tagguard.pricing.refresh import write_atomic

    target = tmp_path / "card.json"
    target.write_text("old")

    with pytest.raises(TypeError):
        write_atomic(target, 12345)  # not a str: the write fails after the temp file is created
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["card.json"]


def test_bad_local_card_is_one_line_error(tmp_path):
    from tagguard.pricing.refresh import local_ratecard

    bad = tmp_path / "x.json"
    bad.write_text('{"kind": "other"}')
    with pytest.raises(ValueError, match="not a tagguard local rate card"):
        local_ratecard(path=bad)


def test_refresh_command_builds():
    from tagguard.commands.pricing import pricing, refresh_command

    assert pricing.get_command(None, "refresh") is refresh_command

    assert refresh_command.name == "refresh" and any(p.name == "regions" for p in refresh_command.params)


POOL = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: mixed}
spec:
  template:
    metadata:
      labels: {team: mixed}
    spec:
      nodeClassRef: {name: gpu}
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [g5.xlarge, g6.xlarge, p4d.24xlarge]}
"""
POD = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: mixed, namespace: ml}
spec:
  replicas: 1
  template:
    metadata: {labels: {app: x}}
    spec:
      nodeSelector: {team: mixed}
      containers:
        - name: c
          resources: {limits: {nvidia.com/gpu: 1}}
"""


def test_placement_ranks_node_types_by_the_card_the_scan_prices_with(tmp_path, monkeypatch):
    """A workload placed on a pool of several GPU models goes to the type cheapest per GPU on the
    card the scan prices with: with a local rate card that makes p4d.24xlarge the cheapest, that one."""
    from tagguard.config import Config
    from tagguard.pipeline import scan
    from tagguard.pricing import catalog

    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "np.yaml").write_text(POOL)
    (tmp_path / "repo" / "d.yaml").write_text(POD)

    def placed():
        result = scan([str(tmp_path / "repo")], Config(raw={}, path=tmp_path / "repo" / ".tagguard.yaml"))
        (r,) = [r for r in result.resources if r.address == "Deployment/ml/mixed"]
        return r

    monkeypatch.setenv("TAGGUARD_LOCAL_RATECARD", str(tmp_path / "none.json"))
    assert placed().compute.instance_type != "p4d.24xlarge"  # shipped card: a g5/g6 is cheaper per GPU
    p4d = catalog.lookup("p4d.24xlarge", "aws")
    local = tmp_path / "local.json"
    local.write_text(json.dumps({"kind": "tagguard-local-ratecard", "primary_region": "us-east-1",
                                 "sources": {"mine": {"url": "https://example.invalid", "date": "2026-12-01"}},
                                 "instances": {p4d.key: {"rates": {"us-east-1": {"on_demand": 0.08,
                                                                                 "on_demand_source": "mine"}}}}}))
    monkeypatch.setenv("TAGGUARD_LOCAL_RATECARD", str(local))
    r = placed()
    assert r.compute.instance_type == "p4d.24xlarge"
    assert r.cost.rate_source == "mine" and r.cost.hourly_usd == pytest.approx(0.08 / 8)


def test_terraform_candidate_sizes_are_ranked_by_the_card_the_scan_prices_with(tmp_path, monkeypatch):
    """An instance type known only as "one of" (a validation's list) is priced at the cheapest on
    the card the scan prices with, the local one of `pricing refresh` included."""
    from tagguard.config import Config
    from tagguard.pipeline import scan
    from tagguard.pricing import catalog

    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "main.tf").write_text(
        'variable "itype" {\n  type = string\n  validation {\n'
        '    condition     = contains(["g5.xlarge", "p4d.24xlarge"], var.itype)\n'
        '    error_message = "pick one"\n  }\n}\n'
        'resource "aws_instance" "gpu" {\n  ami = "ami-1"\n  instance_type = var.itype\n}\n')

    def chosen():
        result = scan([str(tmp_path / "repo")], Config(raw={}, path=tmp_path / "repo" / ".tagguard.yaml"))
        (r,) = [r for r in result.resources if r.address == "aws_instance.gpu"]
        return r.compute.instance_type, r.cost.rate_source

    monkeypatch.setenv("TAGGUARD_LOCAL_RATECARD", str(tmp_path / "none.json"))
    assert chosen()[0] == "g5.xlarge"
    p4d = catalog.lookup("p4d.24xlarge", "aws")
    local = tmp_path / "local.json"
    local.write_text(json.dumps({"kind": "tagguard-local-ratecard", "primary_region": "us-east-1",
                                 "sources": {"mine": {"url": "https://example.invalid", "date": "2026-12-01"}},
                                 "instances": {p4d.key: {"rates": {"us-east-1": {"on_demand": 0.5,
                                                                                 "on_demand_source": "mine"}}}}}))
    monkeypatch.setenv("TAGGUARD_LOCAL_RATECARD", str(local))
    assert chosen() == ("p4d.24xlarge", "mine")
