"""What the service says about itself while it runs: metrics of every outcome (EMF, through
the `MetricRecorder` port), and what may appear in a log line."""
