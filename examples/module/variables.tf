variable "name" {
  description = "Name of the environment: tags every object and names the load balancer."
  type        = string
}

variable "vpc_cidr" {
  description = "IPv4 block of the VPC, /16 to /24. Changing it replaces the environment."
  type        = string
  default     = "10.0.0.0/16"
}

variable "az_count" {
  description = "How many availability zones to span (at least 2)."
  type        = number
  default     = 2
}

variable "nat_gateways" {
  description = "`one_per_az`, `single` or `none`."
  type        = string
  default     = "one_per_az"
}

variable "instance_type" {
  description = "EC2 instance type of the app instances."
  type        = string
  default     = "t3.micro"
}

variable "app_port" {
  description = "Port the application listens on."
  type        = number
  default     = 80
}

variable "user_data" {
  description = "Boot script of the app instances."
  type        = string
  default     = null
  sensitive   = true
}

variable "min_size" {
  description = "Smallest number of app instances."
  type        = number
  default     = 2
}

variable "max_size" {
  description = "Largest number of app instances."
  type        = number
  default     = 4
}

variable "health_check_path" {
  description = "HTTP path the load balancer probes."
  type        = string
  default     = "/"
}

variable "ingress_cidrs" {
  description = "Networks allowed to reach the load balancer."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "ssh_ingress_cidrs" {
  description = "Networks allowed to SSH to the bastion; empty: no bastion."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for every object of the environment."
  type        = map(string)
  default     = {}
}
