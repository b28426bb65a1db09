"""Measurements anyone can repeat against the local stack: the soak run (`make soak`)."""
