"""Operate: alerts routed to the teams that own the spend, the monthly review pack, merging sharded reports."""
