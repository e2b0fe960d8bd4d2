# A small AI platform: an EKS GPU node group per team, a SageMaker inference
# endpoint, a training box and a notebook. Cost tags come from provider
# default_tags, shared locals and module arguments. A few violations are
# deliberate (see examples/README.md).

terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.60" }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      business-unit = "ml-platform"
      cost-center   = var.cost_center
      managed-by    = "terraform"
    }
  }
}

provider "aws" {
  alias  = "research"
  region = var.region
  default_tags {
    tags = {
      business-unit = "research"
      cost-center   = "CC-4410"
    }
  }
}

locals {
  env = terraform.workspace == "default" ? var.environment : terraform.workspace
  common_tags = {
    environment = local.env
    project     = "llm-platform"
  }
  teams = {
    search = { instance_type = "g5.12xlarge", nodes = 2, capacity = "ON_DEMAND" }
    vision = { instance_type = "g6e.xlarge", nodes = 4, capacity = "SPOT" }
  }
}

module "team_gpu_nodes" {
  source   = "./modules/gpu-node-group"
  for_each = local.teams

  cluster_name   = var.cluster_name
  name           = "${each.key}-gpu"
  instance_type  = each.value.instance_type
  desired_size   = each.value.nodes
  capacity_type  = each.value.capacity
  tags           = merge(local.common_tags, { project = "${each.key}-models" })
}

module "chat_endpoint" {
  source = "./modules/inference-endpoint"
  providers = {
    aws = aws.research
  }

  name           = "chat-llm"
  instance_type  = "ml.g5.12xlarge"
  instance_count = 2
  tags           = local.common_tags
}

resource "aws_instance" "trainer" {
  ami           = var.dl_ami
  instance_type = "p4d.24xlarge"

  instance_market_options {
    market_type = "spot"
  }

  tags = merge(local.common_tags, {
    Name        = "llm-trainer"
    environment = "production" # deliberate: not one of dev|staging|prod
  })
}

resource "aws_sagemaker_notebook_instance" "scratch" {
  name          = "scratch-notebook"
  role_arn      = var.notebook_role_arn
  instance_type = "ml.g5.xlarge"
  # deliberate: no project/environment (default_tags give business-unit and cost-center only)
}

# tagguard:ignore missing-tag -- benchmark box owned by the vendor's account team until 2027-01
resource "aws_instance" "vendor_benchmark" {
  ami           = var.dl_ami
  instance_type = "g6.xlarge"
  tags          = { Name = "vendor-bench" }
}
