"""Sidan's domain: the org tree, tickets and their lifecycle, routing, points, the outbox.

Nothing here imports Flask, wechatpy or the other top-level packages.
"""
