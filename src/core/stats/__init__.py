"""The daily numbers: counters per service and day, kept as message events happen."""
