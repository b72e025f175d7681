"""Standalone mode's pure parts: the policies that turn prices into a plan, and the plan drawn for people.

`unique_levels` is the default policy (the proposal's rule) and `ready_by` the energy-by-departure policy (with
`ready_by_days` and `departure`), both registered like any plugin's through `plugin`; `report` draws a plan.
The running planner is `energy_agent.runtime.planner`; `energy_agent.runtime.charge_need` turns the settings
into a ready-by plan's inputs.
"""
