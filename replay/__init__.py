"""Replay: the raw archive and the dead letters read back into the events topic with today's code."""
