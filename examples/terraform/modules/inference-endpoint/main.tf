variable "name" { type = string }
variable "instance_type" { type = string }
variable "instance_count" { type = number }
variable "tags" {
  type    = map(string)
  default = {}
}

resource "aws_sagemaker_model" "this" {
  name               = var.name
  execution_role_arn = "arn:aws:iam::123456789012:role/sagemaker"
  primary_container {
    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:2.4"
  }
  tags = var.tags
}

resource "aws_sagemaker_endpoint_configuration" "this" {
  name = "${var.name}-config"
  production_variants {
    variant_name           = "primary"
    model_name             = aws_sagemaker_model.this.name
    instance_type          = var.instance_type
    initial_instance_count = var.instance_count
  }
  tags = var.tags
}

resource "aws_sagemaker_endpoint" "this" {
  name                 = var.name
  endpoint_config_name = aws_sagemaker_endpoint_configuration.this.name
  tags                 = var.tags
}
