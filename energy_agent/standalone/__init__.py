"""Standalone mode: the agent plans on its own from prices, under the owner's cap.

`unique_levels` is the default policy (the proposal's rule), registered like any plugin's through
`plugin`; `planner` turns prices into a schedule per device; `report` draws a plan for people.
"""
