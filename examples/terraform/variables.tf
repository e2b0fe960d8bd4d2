variable "region" {
  type    = string
  default = "us-east-1"
}

variable "environment" {
  type    = string
  default = "staging"
}

variable "cost_center" {
  type        = string
  description = "Finance cost center for the platform; set in terraform.tfvars"
}

variable "cluster_name" {
  type    = string
  default = "ai-platform"
}

variable "dl_ami" {
  type    = string
  default = "ami-0123456789abcdef0"
}

variable "notebook_role_arn" {
  type    = string
  default = "arn:aws:iam::123456789012:role/notebook"
}
