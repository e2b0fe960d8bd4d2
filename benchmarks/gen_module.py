"""Generate a Terraform AI platform module of N resources for benchmarks.

The shapes real AI platforms use: provider default_tags, shared locals merged
into per-resource tags, a local child module called with for_each and a tags
argument, ASGs with dynamic tag blocks and launch templates, EKS node groups,
SageMaker endpoint configurations.  Every 10th resource lacks `cost-center`
(a real violation) so a scanner has something to find.

    python benchmarks/gen_module.py OUT_DIR N
"""
from __future__ import annotations

import sys
from pathlib import Path

TYPES = ["p4d.24xlarge", "g5.12xlarge", "g6e.xlarge", "p5.48xlarge", "g6.xlarge"]

ROOT_HEAD = '''provider "aws" {
  region = "us-east-1"
  default_tags {
    tags = {
      business-unit = "research"
      cost-center   = var.cost_center
    }
  }
}

variable "cost_center" {
  type    = string
  default = "CC-1000"
}

locals {
  common = {
    project     = "llm-platform"
    environment = "prod"
  }
  teams = { %(teams)s }
}

module "team" {
  source   = "./modules/gpu"
  for_each = local.teams
  team     = each.key
  tags     = merge(local.common, { owner = each.value })
}
'''

MODULE = '''variable "team" { type = string }
variable "tags" {
  type    = map(string)
  default = {}
}

locals {
  tags = merge(var.tags, { team = var.team })
}
%(body)s'''

INSTANCE = '''
resource "aws_instance" "gpu_%(i)d" {
  ami           = "ami-0123456789abcdef0"
  instance_type = "%(t)s"
  tags = merge(local.%(loc)s, {
    Name = "gpu-%(i)d"%(extra)s
  })
}
'''

ASG = '''
resource "aws_launch_template" "lt_%(i)d" {
  name_prefix   = "lt-%(i)d-"
  instance_type = "%(t)s"
  tag_specifications {
    resource_type = "instance"
    tags          = merge(local.common, { business-unit = "research", cost-center = "CC-1000" })
  }
}

resource "aws_autoscaling_group" "asg_%(i)d" {
  desired_capacity = 2
  max_size         = 4
  min_size         = 0
  launch_template {
    id = aws_launch_template.lt_%(i)d.id
  }
  dynamic "tag" {
    for_each = merge(local.common, { business-unit = "research", cost-center = "CC-1000" })
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }
}
'''

NODE_GROUP = '''
resource "aws_eks_node_group" "ng_%(i)d" {
  cluster_name    = "ai"
  node_group_name = "ng-%(i)d"
  node_role_arn   = "arn:aws:iam::123456789012:role/node"
  subnet_ids      = ["subnet-1"]
  instance_types  = ["%(t)s"]
  capacity_type   = "SPOT"
  scaling_config {
    desired_size = 3
    max_size     = 6
    min_size     = 0
  }
  tags = merge(local.common, { Name = "ng-%(i)d" })
}
'''

ENDPOINT = '''
resource "aws_sagemaker_endpoint_configuration" "ep_%(i)d" {
  name = "ep-%(i)d"
  production_variants {
    variant_name           = "primary"
    model_name             = "model-%(i)d"
    instance_type          = "ml.g5.12xlarge"
    initial_instance_count = 1
  }
  tags = local.common
}
'''


def generate(out: Path, n: int, per_module: int = 20) -> dict:
    """Write the module; returns counts of what was generated."""
    out = Path(out)
    (out / "modules" / "gpu").mkdir(parents=True, exist_ok=True)
    n_module = (n // 2) // per_module * per_module
    teams = n_module // per_module
    mod_body = []
    for i in range(per_module):
        extra = '\n    cost-center = ""' if i % 10 == 9 else ""
        mod_body.append(INSTANCE % {"i": i, "t": TYPES[i % len(TYPES)], "loc": "tags", "extra": extra})
    (out / "modules" / "gpu" / "main.tf").write_text(MODULE % {"body": "".join(mod_body)})
    team_map = ", ".join(f'team{t:03d} = "owner{t}@example.com"' for t in range(teams))
    parts = [ROOT_HEAD % {"teams": team_map}]
    resources = n_module * 1
    i = 0
    while resources < n:
        kind = i % 4
        t = TYPES[i % len(TYPES)]
        if kind == 0:
            extra = '\n    cost-center = ""' if i % 10 == 8 else ""
            parts.append(INSTANCE % {"i": i, "t": t, "loc": "common", "extra": extra})
            resources += 1
        elif kind == 1:
            parts.append(ASG % {"i": i, "t": t})
            resources += 2
        elif kind == 2:
            parts.append(NODE_GROUP % {"i": i, "t": t})
            resources += 1
        else:
            parts.append(ENDPOINT % {"i": i})
            resources += 1
        i += 1
    (out / "main.tf").write_text("".join(parts))
    lines = sum(p.read_text().count("\n") for p in out.rglob("*.tf"))
    return {"resources": resources, "module_instances": teams, "lines": lines}


if __name__ == "__main__":
    print(generate(Path(sys.argv[1]), int(sys.argv[2])))
