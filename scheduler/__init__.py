"""The scheduler process: deadline sweep, rating loop, digests, outbound drain, leader lease.

Imports `models` only (DESIGN §8); the transport is handed in by `bot.cli`.
"""
