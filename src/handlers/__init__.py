"""Lambda entry points: thin translations between events and `core`."""
