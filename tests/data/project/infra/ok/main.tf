resource "aws_instance" "tagged" {
  ami           = "ami-0123456789"
  instance_type = "g5.xlarge"
  tags = {
    business-unit = "research"
    project       = "rag"
    environment   = "dev"
    cost-center   = "CC-1234"
  }
}
