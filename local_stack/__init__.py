"""The local stack: the API on localhost with no AWS account and no Docker (`make dev`)."""
