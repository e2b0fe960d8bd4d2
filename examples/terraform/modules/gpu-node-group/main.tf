variable "cluster_name" { type = string }
variable "name" { type = string }
variable "instance_type" { type = string }
variable "desired_size" { type = number }
variable "capacity_type" {
  type    = string
  default = "ON_DEMAND"
}
variable "tags" {
  type    = map(string)
  default = {}
}

resource "aws_launch_template" "gpu" {
  name_prefix = "${var.name}-"

  tag_specifications {
    resource_type = "instance"
    tags          = var.tags # deliberate: default_tags never reach tag_specifications
  }
}

resource "aws_eks_node_group" "this" {
  cluster_name    = var.cluster_name
  node_group_name = var.name
  node_role_arn   = "arn:aws:iam::123456789012:role/eks-node"
  subnet_ids      = ["subnet-0a", "subnet-0b"]
  instance_types  = [var.instance_type]
  capacity_type   = var.capacity_type
  ami_type        = "AL2023_x86_64_NVIDIA"

  scaling_config {
    desired_size = var.desired_size
    min_size     = 0
    max_size     = var.desired_size * 2
  }

  launch_template {
    id      = aws_launch_template.gpu.id
    version = aws_launch_template.gpu.latest_version
  }

  tags = var.tags
}
