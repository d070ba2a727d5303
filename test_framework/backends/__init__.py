"""Where the service under test runs: one ``Backend`` per mode."""
