"""The webhook edge (Starlette) and what every process shares: settings and the Kafka record contract."""
