"""The writer: consumer-group members that turn event records into rows, exactly once in effect."""
