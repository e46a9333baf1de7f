"""Graph API sync (incremental and full), the timer loop with per-page leases, the admin API."""
