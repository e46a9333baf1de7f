"""Commands of `emulator/` (placeholder until issue #6 (emulator) lands)."""

import click


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def emulator() -> None:
    """Not built yet."""
    raise click.ClickException("`convsync emulator` is not built yet: issue #6 (emulator) brings it")
