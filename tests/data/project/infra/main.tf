provider "aws" {
  region = "us-east-1"
  default_tags {
    tags = {
      business-unit = "research"
    }
  }
}

resource "aws_instance" "trainer" {
  ami           = "ami-0123456789"
  instance_type = "p4d.24xlarge"
  tags = {
    project     = "llm"
    environment = "prod"
  }
}

resource "aws_instance" "inference" {
  ami           = "ami-0123456789"
  instance_type = "g5.2xlarge"
  tags = {
    project       = "llm-serving"
    environment   = "production"
    "cost-center" = "CC-1234"
  }
}

# tagguard:ignore missing-tag -- research sandbox, torn down weekly (FIN-42)
resource "aws_instance" "sandbox" {
  ami           = "ami-0123456789"
  instance_type = "g5.xlarge"
  tags = {
    project = "sandbox"
  }
}
