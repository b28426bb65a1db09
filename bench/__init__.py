"""Measurements anyone can repeat: the soak run (`make soak`, `bench.soak`) and the round-trip,
CPU and memory benchmark (`make bench`, `python -m bench`, `bench.run`)."""
