"""Commands of `consumers/` (placeholder until issue #5 (writer) lands)."""

import click


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def consume() -> None:
    """Not built yet."""
    raise click.ClickException("`convsync consume` is not built yet: issue #5 (writer) brings it")
