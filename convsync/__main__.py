from convsync.cli import run

run()
