"""Commands of `reconciler/` (placeholder until issue #7 lands)."""

import click


def _pending(name: str) -> click.Command:
    @click.command(name, context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    def command() -> None:
        """Not built yet."""
        raise click.ClickException(f"`convsync {name}` is not built yet: issue #7 (reconciler) brings it")

    return command


reconcile = _pending("reconcile")
sync = _pending("sync")
pages = _pending("pages")
