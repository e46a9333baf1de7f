"""Commands of `ingest/` (placeholder until issue #4 (webhook edge) lands)."""

import click


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def serve() -> None:
    """Not built yet."""
    raise click.ClickException("`convsync serve` is not built yet: issue #4 (webhook edge) brings it")
