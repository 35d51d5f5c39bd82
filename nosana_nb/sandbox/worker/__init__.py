"""The deployment manager's worker and the simulated GPU network it drives.

Listeners react to the store's change feed, tasks (LIST, EXTEND, STOP) run on the simulated
clock, nodes claim and run jobs, and job money moves through ``sandbox.chain``.
"""
