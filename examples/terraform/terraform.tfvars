cost_center = "CC-1120"
